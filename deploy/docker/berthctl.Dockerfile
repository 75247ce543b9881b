# syntax=docker/dockerfile:1
# berthctl: the Berth command-line client (token create, apply/get, plan).
#   docker build -f deploy/docker/berthctl.Dockerfile -t berthctl:0.1.0 .      (from the repo root)
# Multi-stage: the build stage installs what scripts/install-deps.sh installs and builds only
# the berthctl target; the runtime stage is debian:bookworm-slim with the shared libraries the
# binary links (checked against `ldd` of the built binary by tests/deploy) and a non-root user.

FROM debian:bookworm AS build
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      build-essential cmake ninja-build pkg-config \
      libcpprest-dev libboost-dev libyaml-cpp-dev nlohmann-json3-dev libspdlog-dev \
      libssl-dev openssl libsqlite3-dev libcli11-dev prometheus-cpp-dev libjemalloc-dev \
      googletest libgtest-dev libgmock-dev libbenchmark-dev \
      curl python3 sqlite3 systemd \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# The whole tree (minus <this file>.dockerignore: build output, .git, node_modules), so a new
# component folder needs no change here.
COPY . .
RUN cmake -S /src -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DBERTH_BUILD_TESTS=OFF -DBERTH_BUILD_BENCH=OFF \
 && cmake --build /build --target berthctl \
 && strip /build/bin/berthctl

FROM debian:bookworm-slim
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libcpprest2.10 libyaml-cpp0.7 libssl3 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 65532 berth \
 && useradd --system --uid 65532 --gid 65532 --home-dir /nonexistent --no-create-home \
      --shell /usr/sbin/nologin berth
COPY --from=build /build/bin/berthctl /usr/local/bin/berthctl
USER 65532:65532

ENTRYPOINT ["/usr/local/bin/berthctl"]
CMD ["--help"]

# syntax=docker/dockerfile:1
# berth-hub: the Berth control plane (HTTPS API + SQLite store).
#   docker build -f deploy/docker/berth-hub.Dockerfile -t berth-hub:0.1.0 .      (from the repo root)
# Multi-stage: the build stage installs what scripts/install-deps.sh installs and builds only
# the berth-hub target; the runtime stage is debian:bookworm-slim with the shared libraries the
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
 && cmake --build /build --target berth-hub \
 && strip /build/bin/berth-hub

FROM debian:bookworm-slim
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libcpprest2.10 libyaml-cpp0.7 libsqlite3-0 libssl3 libspdlog1.10 libprometheus-cpp-core1.0 libjemalloc2 \
      sqlite3 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 65532 berth \
 && useradd --system --uid 65532 --gid 65532 --home-dir /nonexistent --no-create-home \
      --shell /usr/sbin/nologin berth \
 && install -d -o 65532 -g 65532 -m 0700 /var/lib/berth
COPY --from=build /build/bin/berth-hub /usr/local/bin/berth-hub
USER 65532:65532
# HTTPS API (--listen); the Kubernetes Service maps 443 to it.
EXPOSE 6443
VOLUME ["/var/lib/berth"]
ENTRYPOINT ["/usr/local/bin/berth-hub"]
# The data dir holds berth.db, pki/ and admin.kubeconfig; add --tls-san for every name
# clients dial. sqlite3 (the CLI) is in the image for online backups (docs/OPERATIONS.md).
CMD ["--data-dir=/var/lib/berth/data", "--listen=0.0.0.0:6443"]

# syntax=docker/dockerfile:1
# berth-gateway: one OpenAI-compatible address for the fleet, steering a local HAProxy.
#   docker build -f deploy/docker/berth-gateway.Dockerfile -t berth-gateway:0.1.0 .      (from the repo root)
# Multi-stage: the build stage installs what scripts/install-deps.sh installs and builds only
# the berth-gateway target; the runtime stage is debian:bookworm-slim with the shared libraries
# the binary links (checked against `ldd` of the built binary by tests/deploy), Debian's
# haproxy (2.6, built with the Prometheus exporter), which berth-gateway starts as its child,
# and a non-root user.

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
 && cmake --build /build --target berth-gateway \
 && strip /build/bin/berth-gateway

FROM debian:bookworm-slim
ARG DEBIAN_FRONTEND=noninteractive
# haproxy: the data plane (/usr/sbin/haproxy, the --haproxy default). Its packaged service is
# never started in the image; berth-gateway runs it with its own configuration.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libcpprest2.10 libyaml-cpp0.7 libssl3 libspdlog1.10 haproxy ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 65532 berth \
 && useradd --system --uid 65532 --gid 65532 --home-dir /nonexistent --no-create-home \
      --shell /usr/sbin/nologin berth \
 && install -d -o 65532 -g 65532 -m 0700 /var/lib/berth-gateway
COPY --from=build /build/bin/berth-gateway /usr/local/bin/berth-gateway
USER 65532:65532
# HAProxy's client frontend (--listen, the OpenAI-compatible API) and its metrics frontend
# (--metrics-listen: /metrics, /metrics/berth). The catalog listener stays on loopback.
EXPOSE 8080 9101
ENTRYPOINT ["/usr/local/bin/berth-gateway"]
# haproxy.cfg, models.map, the runtime socket and haproxy.log go to the state dir. Add the
# source: --kubeconfig FILE (the hub) or --endpoints-file FILE
# (deploy/kubernetes/gateway/deployment.yaml passes the hub's kubeconfig from a Secret).
CMD ["--state-dir=/var/lib/berth-gateway", "--listen=0.0.0.0:8080", "--metrics-listen=0.0.0.0:9101"]

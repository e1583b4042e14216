# weir-controller image: docker build -t ghcr.io/weir-dev/weir-controller:0.1.0 .
# The Helm chart (charts/weir) uses this repository and tag by default; the
# build stage installs what hack/install-deps.sh installs, the runtime stage
# only the packages that hold the binary's shared libraries.
# test/scripts/dockerfile_test.sh checks both lists against the real binary.

FROM debian:bookworm AS build
ARG BUILD_PACKAGES="build-essential cmake ninja-build pkg-config libcpprest-dev libboost-system-dev libssl-dev libyaml-cpp-dev nlohmann-json3-dev libabsl-dev libgtest-dev libgmock-dev clang-format openssl curl ca-certificates procps iproute2 util-linux"
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${BUILD_PACKAGES} \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release \
 && cmake --build /build --target weir-controller \
 && strip /build/bin/weir-controller

FROM debian:bookworm-slim
ARG RUNTIME_PACKAGES="libabsl20220623 libbrotli1 libc6 libcpprest2.10 libgcc-s1 libssl3 libstdc++6 libyaml-cpp0.7 zlib1g ca-certificates"
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${RUNTIME_PACKAGES} \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 65532 nonroot \
 && useradd --uid 65532 --gid 65532 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin nonroot
COPY --from=build /build/bin/weir-controller /usr/local/bin/weir-controller
LABEL org.opencontainers.image.title="weir-controller" \
      org.opencontainers.image.description="weir: Batch and JobFlow resources run as Kubernetes Jobs" \
      org.opencontainers.image.version="0.1.0" \
      org.opencontainers.image.source="https://github.com/weir-dev/weir" \
      dev.weir.image="ghcr.io/weir-dev/weir-controller"
USER 65532:65532
EXPOSE 8080 8081
ENTRYPOINT ["/usr/local/bin/weir-controller"]

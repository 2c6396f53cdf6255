# vxswitch on Debian bookworm with Debian's DPDK 22.11.
# Run with the privileges a DPDK switch needs, e.g.:
#   docker run --rm -it --privileged --network host -v /dev/hugepages:/dev/hugepages \
#     -v /run/vxswitch:/run/vxswitch -v $PWD/configs:/etc/vxswitch vxswitch dataplane -c /etc/vxswitch/bare-metal.toml
FROM rust:1-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends libdpdk-dev pkg-config clang libclang-dev libpcap-dev protobuf-compiler \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends dpdk iproute2 iputils-ping iputils-arping ethtool \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/vxswitch /usr/local/bin/vxswitch
COPY configs /etc/vxswitch
ENTRYPOINT ["/usr/local/bin/vxswitch"]

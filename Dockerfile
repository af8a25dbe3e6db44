# Multi-stage build: compile in the Rust image, run from a distroless base.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release -p k8s-adapter && strip target/release/k8s-adapter

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/k8s-adapter /usr/local/bin/k8s-adapter
USER 65534:65534
ENTRYPOINT ["/usr/local/bin/k8s-adapter"]

# syntax=docker/dockerfile:1

# ---- build ---------------------------------------------------------------
FROM rust:1-bookworm AS builder
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY templates ./templates
COPY static ./static
COPY config ./config
# Declared in Cargo.toml as a [[bench]] target, so the manifest needs it to be present.
COPY benches ./benches
RUN cargo build --release --locked

# ---- runtime -------------------------------------------------------------
FROM debian:bookworm-slim
# `docker build --build-arg VERSION=$(cargo pkgid | cut -d'#' -f2) --build-arg SOURCE=<your repository URL>`
ARG VERSION=0.1.0
ARG SOURCE=""
LABEL org.opencontainers.image.title="optin-verify" \
      org.opencontainers.image.description="Verified opt-in for telephone marketing" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 optin \
    && useradd --system --uid 10001 --gid optin --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin optin \
    && install -d -o optin -g optin /var/lib/optin-verify
COPY --from=builder /src/target/release/optin-verify /usr/local/bin/optin-verify
USER optin
EXPOSE 8080
# The image runs in production mode: it refuses to start without real secrets and tenants.
ENV OPTIN__MODE=production \
    OPTIN__HTTP__BIND=0.0.0.0:8080
HEALTHCHECK --interval=10s --timeout=3s --retries=3 \
    CMD ["/usr/local/bin/optin-verify","healthcheck","--addr","127.0.0.1:8080"]
ENTRYPOINT ["/usr/local/bin/optin-verify"]
CMD ["serve"]

# syntax=docker/dockerfile:1
# SentryPeer (Rust) container image: one statically linked binary in an empty image, running as
# the unprivileged user sentrypeer (10001). README "Install" has the run and compose examples.
#
#   docker build -t sentrypeer .
#       compiles in the Rust image (the `source` stage), needs a registry to pull it from;
#   contrib/container/build-rootfs && podman build --build-arg BINARY=prebuilt -t sentrypeer .
#       takes the tree build-rootfs made on this machine: no pulls at all.
#
# Ports below 1024 without root: Docker lets any user bind them inside a container's own network
# namespace (net.ipv4.ip_unprivileged_port_start=0); Podman gives the one capability with
# `--cap-drop=all --cap-add=net_bind_service`. Either way the process holds no other capability.

ARG BINARY=source

# Build: the tree of the image, made by the same script as without pulls.
FROM docker.io/library/rust:1-bookworm AS source
WORKDIR /src
COPY . .
RUN contrib/container/build-rootfs /rootfs

# Or the tree build-rootfs made outside (--build-arg BINARY=prebuilt).
FROM scratch AS prebuilt
COPY target/container-rootfs/ /rootfs/

FROM ${BINARY} AS rootfs

FROM scratch
ARG VERSION=4.1.0
LABEL org.opencontainers.image.title="sentrypeer" \
      org.opencontainers.image.description="SIP honeypot: records bad actors' IP addresses and the numbers they dial" \
      org.opencontainers.image.source="https://github.com/SentryPeer/SentryPeer" \
      org.opencontainers.image.licenses="GPL-2.0-only OR GPL-3.0-only" \
      org.opencontainers.image.version="${VERSION}"
# Everything root's, then the two directories the user writes, new, so --chown makes them its
# own (and leaves their parents root's).
COPY --from=rootfs /rootfs/files/ /
COPY --from=rootfs --chown=10001:10001 /rootfs/user-dir/ /var/lib/sentrypeer/
COPY --from=rootfs --chown=10001:10001 /rootfs/user-dir/ /var/log/sentrypeer/

USER 10001:10001
# Relative defaults (sentrypeer.db, cert.pem, key.pem, the node id and P2P key next to the
# database, sentrypeer_json.log) all land in the volume; SENTRYPEER_* variables override them.
WORKDIR /var/lib/sentrypeer
VOLUME ["/var/lib/sentrypeer"]

# SIP over UDP and TCP, SIP over TLS, the REST API, peer-to-peer (libp2p over TCP).
EXPOSE 5060/udp 5060/tcp 5061/tcp 8082/tcp 4222/tcp

# The image has no shell and no curl: the daemon asks its own /health-check (needs the API).
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/usr/bin/sentrypeer", "--health-check"]

# SIGTERM (the original's image used SIGKILL): queues drain and the database is closed cleanly.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/sentrypeer"]
# Responsive, REST API, JSON log: the original image's -ra plus -j. Booleans are flags, not
# variables here, since a set SENTRYPEER_* boolean cannot be unset by an env file.
CMD ["-r", "-a", "-j"]

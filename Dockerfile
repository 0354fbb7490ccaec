# syntax=docker/dockerfile:1

# Build a static binary.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -buildvcs=false \
      -ldflags "-s -w -X main.version=${VERSION}" \
      -o /out/smpp-hlr-gateway ./cmd/smpp-hlr-gateway

# Run it as a non-root user on a minimal base (no shell, no curl: the
# health check is the binary's own healthcheck subcommand).
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/smpp-hlr-gateway /smpp-hlr-gateway
USER nonroot:nonroot
# SMPP, then metrics and health.
EXPOSE 2776 9091
HEALTHCHECK --interval=15s --timeout=5s --start-period=10s --retries=3 \
  CMD ["/smpp-hlr-gateway", "healthcheck"]
ENTRYPOINT ["/smpp-hlr-gateway"]
CMD ["serve"]

# careslot image: build the one binary in a Go image, run it as a non-root user in a
# small runtime image that still has wget for the health check.

FROM golang:1.26-alpine AS build
WORKDIR /src
# Dependencies first so that code changes do not re-download modules.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/careslot ./cmd/careslot

FROM alpine:3.22
RUN apk add --no-cache ca-certificates tzdata \
	&& addgroup -S -g 10001 careslot \
	&& adduser -S -D -H -u 10001 -G careslot careslot
COPY --from=build /out/careslot /usr/local/bin/careslot
USER 10001:10001
# Inside a container the server must listen on every interface; publish the port on
# the host's loopback only (see docker-compose.yml). The base URL is the one clients use
# (Location headers, fullUrls), not the listen address; set it when publishing elsewhere.
ENV CARESLOT_ADDR=0.0.0.0:8080 \
	CARESLOT_BASE_URL=http://127.0.0.1:8080/fhir
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
	CMD wget -q -O /dev/null http://127.0.0.1:8080/healthz || exit 1
ENTRYPOINT ["/usr/local/bin/careslot"]
CMD ["serve"]

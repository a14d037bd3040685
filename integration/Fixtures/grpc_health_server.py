#!/usr/bin/python3
"""A gRPC health server on the reference gRPC implementation (Debian's python3-grpcio),
for swiftlet's gRPC probe tests.

    grpc_health_server.py HOST PORT STATUS_FILE [--no-health]

grpc.health.v1.Health/Check answers for the services "" and "named" with the status
named in STATUS_FILE (SERVING, NOT_SERVING, ... re-read on every call), NOT_FOUND
"unknown service" for others, as grpc's own health servicer does. With --no-health
the server serves nothing (every call: UNIMPLEMENTED). PORT 0 picks a free port; the
port bound is written to STATUS_FILE.port once the server listens.
"""
import os
import sys
import time
from concurrent import futures

import grpc

STATUSES = {"UNKNOWN": 0, "SERVING": 1, "NOT_SERVING": 2, "SERVICE_UNKNOWN": 3}


def parse_service(request: bytes) -> str:
    # HealthCheckRequest { string service = 1; }
    i, service = 0, ""
    while i < len(request):
        key = request[i]
        i += 1
        length, shift = 0, 0
        while True:
            b = request[i]
            i += 1
            length |= (b & 0x7F) << shift
            shift += 7
            if b < 0x80:
                break
        if key == 0x0A:
            service = request[i:i + length].decode()
        i += length
    return service


def main() -> None:
    host, port, status_file = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    no_health = "--no-health" in sys.argv[4:]

    def check(request: bytes, context: grpc.ServicerContext) -> bytes:
        if parse_service(request) not in ("", "named"):
            context.abort(grpc.StatusCode.NOT_FOUND, "unknown service")
        with open(status_file) as f:
            status = STATUSES[f.read().strip()]
        # HealthCheckResponse { ServingStatus status = 1; }
        return bytes([0x08, status]) if status else b""

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    if not no_health:
        handler = grpc.unary_unary_rpc_method_handler(check, request_deserializer=None, response_serializer=None)
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("grpc.health.v1.Health", {"Check": handler}),))
    bound = server.add_insecure_port(f"{host}:{port}")
    server.start()
    with open(status_file + ".port.tmp", "w") as f:
        f.write(str(bound))
    os.rename(status_file + ".port.tmp", status_file + ".port")
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()

"""Starts moto servers for one test process, paying moto's start-up once.

A fresh `python3 -m moto.server` spends about 2.5 s of CPU before it has
answered one call of each service bluegreen uses (imports, botocore's models,
the EC2 backend's catalogues); a test run starts two dozen of them on a 2-core
machine. This launcher does that work once, then forks a server per request:
each child is a separate moto with its own state, as before, warmed by
copy-on-write.

Protocol, one JSON object per line:
  stdin  {"start": {"MOTO_PORT": "..."}}  -> stdout {"pid": N, "port": N}
  stdin  {"stop": N}                      -> stdout {"stopped": N}, once it is gone
End of stdin (the test process ended, however it ended) stops every server
this launcher started, then the launcher.
"""

import json
import os
import signal
import sys
import time
from urllib.parse import urlsplit

from moto.moto_api import state_manager
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server

moto_app = DomainDispatcherApplication(create_backend_app)
moto_app.debug = True

# ECS tasks stay where they are until something stops them, as on AWS. By
# default moto moves a task one status further on every DescribeTasks and ends
# it with exit code 0, whatever it runs: kinder than AWS, and a migration that
# fails could never be played.
state_manager.set_transition(
    model_name="ecs::task", transition={"progression": "manual", "times": 10**9}
)

TASK_ENDED = "/_bluegreen/ecs/task-ended"


def end_task(body):
    """The end of a task's run, as ECS would report it: what the local cluster
    calls once the one-off task it played has exited. moto has no API that
    sets a container's exit code (on AWS the ECS agent reports it)."""
    from moto.ecs.models import ecs_backends

    backend = ecs_backends[body.get("account", "123456789012")][body["region"]]
    task = backend.stop_task(body["cluster"], body["task"], body["reason"])
    for container in task.containers:
        container.exitCode = body["exit_code"]
        container.last_status = "STOPPED"
    return {"task": task.task_arn, "exit_code": body["exit_code"]}


def app(environ, start_response):
    """moto, plus the one local-only call above."""
    if environ.get("PATH_INFO") == TASK_ENDED and environ["REQUEST_METHOD"] == "POST":
        length = int(environ.get("CONTENT_LENGTH") or 0)
        try:
            reply, status = end_task(json.loads(environ["wsgi.input"].read(length))), "200 OK"
        except Exception as e:  # the caller shows it
            reply, status = {"error": repr(e)}, "400 Bad Request"
        start_response(status, [("Content-Type", "application/json")])
        return [json.dumps(reply).encode()]
    return moto_app(environ, start_response)

# One cheap read of each service the local mode calls, through the WSGI app in
# this process (no socket): what a first call loads is loaded before the fork.
WARM_UP = [
    ("ec2", "describe_vpcs", {}),
    ("elbv2", "describe_load_balancers", {}),
    ("ecs", "list_clusters", {}),
    ("ssm", "describe_parameters", {}),
    ("stepfunctions", "list_state_machines", {}),
    ("sns", "list_topics", {}),
    ("sqs", "list_queues", {}),
    ("cloudwatch", "describe_alarms", {}),
    ("sts", "get_caller_identity", {}),
    ("application-autoscaling", "describe_scalable_targets", {"ServiceNamespace": "ecs"}),
    ("lambda", "list_functions", {}),
]


def warm_up():
    import boto3
    from botocore.awsrequest import AWSResponse
    from werkzeug.test import Client

    wsgi = Client(moto_app)

    class Body:
        def __init__(self, data):
            self.data = data

        def stream(self, **_):
            yield self.data

    def answer_in_process(request, **_):
        url = urlsplit(request.url)
        body = request.body
        if hasattr(body, "read"):
            body = body.read()
        reply = wsgi.open(
            path=url.path or "/",
            query_string=url.query,
            method=request.method,
            headers=[
                (k, v.decode() if isinstance(v, bytes) else v)
                for k, v in request.headers.items()
            ],
            data=body or b"",
        )
        headers = {k.lower(): v for k, v in reply.headers.items()}
        return AWSResponse(request.url, reply.status_code, headers, Body(reply.get_data()))

    session = boto3.session.Session(
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    for service, operation, arguments in WARM_UP:
        client = session.client(service, endpoint_url="http://127.0.0.1:5000")
        client.meta.events.register("before-send", answer_in_process)
        try:
            getattr(client, operation)(**arguments)
        except Exception as e:  # a warm-up that fails only costs time later
            print(f"moto_fork: warm-up {service}.{operation}: {e}", file=sys.stderr)


def serve(env):
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    # Ctrl-C in a terminal reaches every process of the group: a server ends
    # on it, as `moto.server` does (the launcher ignores it, see main).
    signal.signal(signal.SIGINT, lambda *_: os._exit(0))
    os.environ.update(env)
    server = make_server(
        "127.0.0.1", 0, app, threaded=True, request_handler=MotoRequestHandler
    )
    port = server.socket.getsockname()[1]
    # As `moto.server` does: Lambda invocations from Step Functions go to
    # MOTO_PORT, this server's own port unless the caller hosts the Lambdas.
    os.environ.setdefault("MOTO_PORT", str(port))
    sys.stdout.write(json.dumps({"pid": os.getpid(), "port": port}) + "\n")
    sys.stdout.flush()
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    server.serve_forever()
    os._exit(0)


def stop(pid):
    """Ends the server and returns once its process is gone (its port closed)."""
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    for _ in range(500):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.01)


def main():
    warm_up()
    # Children are reaped by the kernel; the launcher never waits on them.
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    # Ctrl-C in a terminal: the test process or `bluegreen-local up` ends,
    # its end of stdin closes, and the loop below ends every server.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    children = set()
    sys.stdout.write(json.dumps({"ready": True}) + "\n")
    sys.stdout.flush()
    for line in sys.stdin:
        request = json.loads(line)
        if "start" in request:
            pid = os.fork()
            if pid == 0:
                serve(request["start"])
            children.add(pid)
        elif "stop" in request:
            pid = request["stop"]
            if pid in children:
                children.discard(pid)
                stop(pid)
            sys.stdout.write(json.dumps({"stopped": pid}) + "\n")
            sys.stdout.flush()
    for pid in children:
        stop(pid)


if __name__ == "__main__":
    main()

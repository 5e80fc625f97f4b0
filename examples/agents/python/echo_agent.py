#!/usr/bin/env python3
"""An ARS agent in Python (stdlib only) speaking the stdio protocol v1 (docs/stdio-protocol.md).

Agent type `py-echo`. Messages:
  echo  {"text": str}            -> {"text": str, "by": agent id, "count": n}   (n = echoes so far)
  shout {"text": str, "topic": str} -> publishes `news` {"text": upper(text)} on the topic via the host
  fail  {}                       -> error (name "EchoFailure", code "E_PY_FAIL")
State (per agent id): {"count": int}; exported/imported with state.export / state.import.
"""
import json
import struct
import sys
import threading

VERSIONS = [1]
MAX_FRAME = 1024 * 1024
AGENT_TYPE = "py-echo"
MESSAGES = ["echo", "shout", "fail"]

stdin = sys.stdin.buffer
stdout = sys.stdout.buffer
write_lock = threading.Lock()
peer_max = MAX_FRAME
states = {}  # agent id -> {"count": int}
next_id = 0
pending = {}  # our request id -> callback(frame)


def log(text):
    sys.stderr.write("py-echo: %s\n" % text)
    sys.stderr.flush()


def write(frame):
    body = json.dumps(frame, separators=(",", ":")).encode("utf-8")
    if len(body) > peer_max:
        raise ValueError("frame of %d bytes exceeds the peer's limit %d" % (len(body), peer_max))
    with write_lock:
        stdout.write(struct.pack(">I", len(body)) + body)
        stdout.flush()


def read_exact(n):
    data = b""
    while len(data) < n:
        chunk = stdin.read(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def read_frame():
    """Returns (frame, None), (None, error text) for a bad frame, or (None, None) at end of input."""
    head = read_exact(4)
    if head is None:
        return None, None
    (length,) = struct.unpack(">I", head)
    if length > MAX_FRAME:
        # Skip the body to stay in sync, then report it.
        remaining = length
        while remaining > 0:
            chunk = stdin.read(min(remaining, 65536))
            if not chunk:
                return None, None
            remaining -= len(chunk)
        return None, ("ARS_PROTO_FRAME_TOO_LARGE", "frame of %d bytes exceeds %d" % (length, MAX_FRAME))
    body = read_exact(length)
    if body is None:
        return None, None
    try:
        frame = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        return None, ("ARS_PROTO_BAD_FRAME", "frame body is not UTF-8 JSON: %s" % exc)
    if not isinstance(frame, dict) or not isinstance(frame.get("k"), str):
        return None, ("ARS_PROTO_BAD_FRAME", "a frame is a JSON object with a string field 'k'")
    return frame, None


def error(re, name, code, message, details=None):
    err = {"name": name, "code": code, "message": message}
    if details is not None:
        err["details"] = details
    frame = {"k": "error", "error": err}
    if re is not None:
        frame["re"] = re
    write(frame)


def call(frame, callback):
    """Sends a call frame to the host; `callback(reply_frame)` runs when the host answers."""
    global next_id
    next_id += 1
    frame["id"] = "p%d" % next_id
    pending[frame["id"]] = callback
    write(frame)


def handle_deliver(frame):
    to, mtype, payload, fid = frame.get("to"), frame.get("type"), frame.get("payload"), frame.get("id")
    if mtype not in MESSAGES:
        return error(fid, "UnknownMessageTypeError", "ARS_SDK_UNKNOWN_MESSAGE_TYPE",
                     "agent '%s' has no handler for message type '%s'" % (to, mtype),
                     {"agentId": to, "messageType": mtype, "known": MESSAGES})
    if not isinstance(payload, dict) or (mtype in ("echo", "shout") and not isinstance(payload.get("text"), str)):
        return error(fid, "InvalidMessageError", "ARS_SDK_INVALID_MESSAGE",
                     "message '%s' to '%s' is invalid: text must be a string" % (mtype, to),
                     {"agentId": to, "messageType": mtype, "problems": "  - text: expected a string"})
    state = states.setdefault(to, {"count": 0})
    if mtype == "echo":
        state["count"] += 1
        value = {"text": payload["text"], "by": to, "count": state["count"]}
        return write({"k": "result", "re": fid, "value": value if frame.get("reply") else None})
    if mtype == "fail":
        return error(fid, "EchoFailure", "E_PY_FAIL", "asked to fail")
    if mtype == "shout":
        topic = payload.get("topic") if isinstance(payload.get("topic"), str) else "shouts"

        def published(reply):
            if reply.get("k") == "result":
                write({"k": "result", "re": fid, "value": reply.get("value")})
            else:
                write({"k": "error", "re": fid, "error": reply.get("error")})

        call({"k": "publish", "from": to, "topic": topic, "type": "news",
              "payload": {"text": payload["text"].upper()}}, published)


def main():
    global peer_max
    write({"k": "hello", "versions": VERSIONS, "maxFrameBytes": MAX_FRAME, "impl": "python-echo/1",
           "agent": {"type": AGENT_TYPE, "messages": MESSAGES, "run": False}})
    welcomed = False
    while True:
        frame, problem = read_frame()
        if problem is not None:
            error(None, "ProtocolError", problem[0], problem[1])
            continue
        if frame is None:
            return 0
        kind = frame["k"]
        if kind == "welcome":
            if frame.get("version") not in VERSIONS:
                error(None, "ProtocolError", "ARS_PROTO_UNSUPPORTED_VERSION", "version not spoken here")
                return 1
            peer_max = min(peer_max, int(frame.get("maxFrameBytes", MAX_FRAME)))
            welcomed = True
        elif kind == "shutdown":
            write({"k": "bye"})
            return 0
        elif not welcomed:
            error(frame.get("id"), "ProtocolError", "ARS_PROTO_UNEXPECTED_FRAME", "'%s' before 'welcome'" % kind)
        elif kind == "ping":
            write({"k": "pong", "re": frame.get("id")})
        elif kind == "deliver" and isinstance(frame.get("id"), str):
            handle_deliver(frame)
        elif kind in ("result", "error") and frame.get("re") in pending:
            pending.pop(frame["re"])(frame)
        elif kind == "error":
            log("host reported: %s" % frame.get("error"))
        elif kind == "state.export":
            agent = frame.get("agentId")
            snap = {"v": 1, "agentType": AGENT_TYPE, "state": states[agent]} if agent in states else None
            write({"k": "result", "re": frame.get("id"), "value": snap})
        elif kind == "state.import":
            snap = frame.get("snapshot") or {}
            state = snap.get("state")
            if snap.get("agentType") != AGENT_TYPE or not isinstance(state, dict) or not isinstance(state.get("count"), int):
                error(frame.get("id"), "InvalidStateError", "ARS_SDK_INVALID_STATE", "state must be {count: int} for py-echo",
                      {"agentId": frame.get("agentId"), "problems": "  - count: expected an integer"})
            else:
                active = frame.get("agentId") in states
                states[frame.get("agentId")] = {"count": state["count"]}
                write({"k": "result", "re": frame.get("id"), "value": active})
        elif kind == "deactivate":
            agent = frame.get("agentId")
            state = states.pop(agent, None)
            write({"k": "result", "re": frame.get("id"),
                   "value": {"v": 1, "agentType": AGENT_TYPE, "state": state} if state is not None else None})
        elif kind == "cancel":
            pass  # every handler here finishes at once; nothing to cancel
        elif "id" in frame:
            error(frame.get("id"), "ProtocolError", "ARS_PROTO_UNEXPECTED_FRAME", "frame kind '%s' is not handled" % kind)


if __name__ == "__main__":
    sys.exit(main())

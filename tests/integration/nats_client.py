"""A small NATS client for the fleet tests: Debian's libnats (the C client
vigil itself uses) through ctypes, with JetStream reached through its JSON
API subjects ($JS.API.*), so a test can create streams, publish with a
Nats-Msg-Id and read back what a stream holds without a second client
implementation. Opaque pointers only: no libnats struct is laid out here."""
import base64
import ctypes
import json

_lib = None


def _nats():
    global _lib
    if _lib is None:
        _lib = ctypes.CDLL("libnats.so.3.4")
        vp, cp = ctypes.c_void_p, ctypes.c_char_p
        _lib.natsConnection_ConnectTo.argtypes = [ctypes.POINTER(vp), cp]
        _lib.natsConnection_Request.argtypes = [ctypes.POINTER(vp), vp, cp, cp, ctypes.c_int,
                                                ctypes.c_int64]
        _lib.natsConnection_RequestMsg.argtypes = [ctypes.POINTER(vp), vp, vp, ctypes.c_int64]
        _lib.natsConnection_Publish.argtypes = [vp, cp, cp, ctypes.c_int]
        _lib.natsConnection_Flush.argtypes = [vp]
        _lib.natsInbox_Create.argtypes = [ctypes.POINTER(cp)]
        _lib.natsInbox_Destroy.argtypes = [cp]
        _lib.natsConnection_SubscribeSync.argtypes = [ctypes.POINTER(vp), vp, cp]
        _lib.natsConnection_PublishRequest.argtypes = [vp, cp, cp, cp, ctypes.c_int]
        _lib.natsSubscription_NextMsg.argtypes = [ctypes.POINTER(vp), vp, ctypes.c_int64]
        _lib.natsSubscription_Destroy.argtypes = [vp]
        _lib.natsMsg_Create.argtypes = [ctypes.POINTER(vp), cp, cp, cp, ctypes.c_int]
        _lib.natsMsgHeader_Set.argtypes = [vp, cp, cp]
        _lib.natsMsg_GetData.argtypes = [vp]
        _lib.natsMsg_GetData.restype = ctypes.POINTER(ctypes.c_char)
        _lib.natsMsg_GetDataLength.argtypes = [vp]
        _lib.natsMsg_Destroy.argtypes = [vp]
        _lib.natsConnection_Destroy.argtypes = [vp]
        _lib.natsConnection_Close.argtypes = [vp]
        _lib.natsStatus_GetText.argtypes = [ctypes.c_int]
        _lib.natsStatus_GetText.restype = cp
    return _lib


class NatsError(Exception):
    pass


class Client:
    """with Client("nats://127.0.0.1:4222,nats://...") as nc: nc.request(...)."""

    def __init__(self, urls):
        if isinstance(urls, (list, tuple)):
            urls = ",".join(urls)
        self.nc = ctypes.c_void_p()
        self._check(_nats().natsConnection_ConnectTo(ctypes.byref(self.nc), urls.encode()),
                    "connect " + urls)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        if self.nc:
            _nats().natsConnection_Close(self.nc)
            _nats().natsConnection_Destroy(self.nc)
            self.nc = None

    @staticmethod
    def _check(s, what):
        if s != 0:
            raise NatsError(f"{what}: {_nats().natsStatus_GetText(s).decode()}")

    @staticmethod
    def _take(msg):
        lib = _nats()
        n = lib.natsMsg_GetDataLength(msg)
        data = ctypes.string_at(lib.natsMsg_GetData(msg), n) if n else b""
        lib.natsMsg_Destroy(msg)
        return data

    def request(self, subject, data, timeout_ms=5000):
        """The reply's bytes; NatsError on no responders or a timeout."""
        if isinstance(data, str):
            data = data.encode()
        reply = ctypes.c_void_p()
        self._check(_nats().natsConnection_Request(ctypes.byref(reply), self.nc, subject.encode(),
                                                   data, len(data), timeout_ms), subject)
        return self._take(reply)

    def ask(self, subject, data, timeout_ms=5000):
        """A request answered on our own inbox: the first reply that is not a stream's
        publish ack (a stream whose subjects cover `subject` acks it too), as a dict."""
        lib = _nats()
        if isinstance(data, str):
            data = data.encode()
        inbox, sub = ctypes.c_char_p(), ctypes.c_void_p()
        self._check(lib.natsInbox_Create(ctypes.byref(inbox)), "inbox")
        try:
            self._check(lib.natsConnection_SubscribeSync(ctypes.byref(sub), self.nc, inbox),
                        "subscribe")
            self._check(lib.natsConnection_PublishRequest(self.nc, subject.encode(), inbox,
                                                          data, len(data)), subject)
            while True:
                m = ctypes.c_void_p()
                self._check(lib.natsSubscription_NextMsg(ctypes.byref(m), sub, timeout_ms),
                            subject)
                out = json.loads(self._take(m) or b"{}")
                if "stream" not in out or "ok" in out:
                    return out
        finally:
            if sub:
                lib.natsSubscription_Destroy(sub)
            lib.natsInbox_Destroy(inbox)

    def js(self, api, body=None, timeout_ms=5000):
        """One JetStream API call ($JS.API.<api>): its JSON answer; NatsError on an error."""
        out = json.loads(self.request("$JS.API." + api, json.dumps(body or {}), timeout_ms))
        if "error" in out:
            raise NatsError(f"{api}: {out['error']}")
        return out

    def publish(self, subject, data, msg_id=None, timeout_ms=5000):
        """A JetStream publish (with Nats-Msg-Id): the stream's ack as a dict."""
        lib = _nats()
        if isinstance(data, str):
            data = data.encode()
        msg, reply = ctypes.c_void_p(), ctypes.c_void_p()
        self._check(lib.natsMsg_Create(ctypes.byref(msg), subject.encode(), None, data,
                                       len(data)), "message")
        if msg_id:
            lib.natsMsgHeader_Set(msg, b"Nats-Msg-Id", msg_id.encode())
        try:
            self._check(lib.natsConnection_RequestMsg(ctypes.byref(reply), self.nc, msg,
                                                      timeout_ms), subject)
        finally:
            lib.natsMsg_Destroy(msg)
        ack = json.loads(self._take(reply))
        if "error" in ack:
            raise NatsError(f"publish {subject}: {ack['error']}")
        return ack

    def publish_core(self, subject, data):
        """A plain publish a stream captures, without waiting for its ack (benches: bulk loads)."""
        if isinstance(data, str):
            data = data.encode()
        self._check(_nats().natsConnection_Publish(self.nc, subject.encode(), data, len(data)),
                    subject)

    def flush(self):
        self._check(_nats().natsConnection_Flush(self.nc), "flush")

    def add_stream(self, name, subjects, replicas=3, duplicate_window_s=120):
        return self.js(f"STREAM.CREATE.{name}", {
            "name": name, "subjects": subjects, "storage": "file", "num_replicas": replicas,
            "duplicate_window": duplicate_window_s * 10**9})

    def subjects(self, stream, filt):
        """{subject: messages} of the stream under filter filt."""
        info = self.js(f"STREAM.INFO.{stream}", {"subjects_filter": filt})
        return info["state"].get("subjects") or {}

    def messages(self, stream, filt):
        """Every message of the stream on subjects matching filt, in order: [(subject, bytes)]."""
        out, seq = [], 1
        while True:
            try:
                m = self.js(f"STREAM.MSG.GET.{stream}", {"seq": seq, "next_by_subj": filt})
            except NatsError as e:
                if "no message found" in str(e):
                    return out
                raise
            m = m["message"]
            out.append((m["subject"], base64.b64decode(m.get("data", ""))))
            seq = m["seq"] + 1

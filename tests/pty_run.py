#!/usr/bin/python3
"""Run a command with its standard error on a pseudo-terminal (what an
operator's terminal is), standard output to a file, and record every byte
written to the terminal.

usage: pty_run.py [--cols N] TTY_FILE STDOUT_FILE COMMAND [ARG...]
Prints the command's exit status.  The terminal is COLS wide (default 120).
"""
import fcntl, os, pty, struct, subprocess, sys, termios

args = sys.argv[1:]
cols = 120
if args[0] == "--cols":
    cols = int(args[1])
    args = args[2:]
tty_file, out_file, cmd = args[0], args[1], args[2:]
master, slave = pty.openpty()
fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, cols, 0, 0))
with open(out_file, "wb") as out:
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=slave)
os.close(slave)
buf = bytearray()
while True:
    try:
        d = os.read(master, 65536)
    except OSError:   # EIO: every writer has closed the terminal
        break
    if not d:
        break
    buf += d
p.wait()
os.close(master)
# The terminal turns "\n" into "\r\n" (ONLCR); undo it so the file holds
# what the program wrote.
with open(tty_file, "wb") as f:
    f.write(bytes(buf).replace(b"\r\n", b"\n"))
print(p.returncode)

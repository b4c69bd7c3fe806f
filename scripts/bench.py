#!/usr/bin/env python3
"""The benchmark's driver; scripts/bench installs the baseline, starts the emulator and runs it.

Every figure is the median of repeated whole-process runs and a ratio measured in the same run,
against the baseline a shell user has (the AWS CLI, one process per call) or against the floor
the emulator itself sets (calls the tool needs x the emulator's call latency / concurrency).
Every promotion is checked afterwards through boto3: a benchmark that silently changed nothing
would be worse than none.

Run it through scripts/bench; run alone, it needs an emulator already started and its request log
(the calls a run makes are counted there):
  .venv-emulator/bin/python scripts/bench.py --endpoint http://127.0.0.1:PORT \
      --emulator-log $TMPDIR/moto-PORT.log [--emulator-pid PID] [--quick] ...
"""

import argparse
import concurrent.futures
import datetime
import filecmp
import hashlib
import http.client
import io
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOLS = ["lambda-promote", "ecs-pin", "apigw-stage", "s3-version", "cfg-diff"]
SECTIONS = ["startup", "read", "lambda", "ecs", "apigateway", "s3", "passthrough", "longrecord"]
REGION = "us-east-1"
ACCOUNT = "123456789012"
REGISTRY = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"
# The tools' documented default (--concurrency); the bench passes nothing, so this is what runs.
TOOL_CONCURRENCY = 8
MANIFEST_TYPE = "application/vnd.docker.distribution.manifest.v2+json"

# The targets. "speedup" is baseline / tool, "vs floor" is tool / floor.
TARGET_READ_SPEEDUP = 20
TARGET_PROMOTE_SPEEDUP = 50
TARGET_FLOOR_FACTOR = 2
TARGET_RECORDS_PER_S = 500_000
TARGET_RSS_MB = 20


def parse_args():
    p = argparse.ArgumentParser(
        prog="scripts/bench",
        description="Benchmark the promote tools against the AWS CLI and the emulator's floor.",
    )
    p.add_argument("--quick", action="store_true",
                   help="a smoke run: 20 functions, 10 of each other service, 20,000 records, few reps")
    p.add_argument("--reps", type=int, help="repetitions of the tools' runs and fast figures (default 9, quick 3)")
    p.add_argument("--slow-reps", type=int, help="repetitions of the CLI loops (default 3, quick 1)")
    p.add_argument("--only", help=f"comma-separated subset of: {','.join(SECTIONS)}")
    p.add_argument("--bin-dir", default=os.path.join(ROOT, "target", "release"),
                   help="where the tools' binaries are (default target/release)")
    p.add_argument("--out", default=os.path.join(ROOT, "target", "bench", "results.json"),
                   help="machine-readable results (default target/bench/results.json)")
    p.add_argument("--functions", type=int, help="Lambda functions to promote (default 200, quick 20)")
    p.add_argument("--services", type=int,
                   help="ECS services, API Gateway stages and S3 objects each (default 50, quick 10)")
    p.add_argument("--records", type=int, help="pass-through records (default 200,000, quick 20,000)")
    # Set by scripts/bench.
    p.add_argument("--endpoint", required=True, help=argparse.SUPPRESS)
    p.add_argument("--emulator-pid", type=int, help=argparse.SUPPRESS)
    p.add_argument("--emulator-log", required=True, help=argparse.SUPPRESS)
    p.add_argument("--workdir", help=argparse.SUPPRESS)
    p.add_argument("--aws", default=os.path.join(ROOT, ".venv-emulator", "bin", "aws"), help=argparse.SUPPRESS)
    a = p.parse_args()
    a.reps = a.reps or (3 if a.quick else 9)
    a.slow_reps = a.slow_reps or (1 if a.quick else 3)
    a.functions = a.functions or (20 if a.quick else 200)
    a.services = a.services or (10 if a.quick else 50)
    a.records = a.records or (20_000 if a.quick else 200_000)
    a.only = a.only.split(",") if a.only else list(SECTIONS)
    unknown = set(a.only) - set(SECTIONS)
    if unknown:
        p.error(f"--only: unknown {', '.join(sorted(unknown))} (known: {', '.join(SECTIONS)})")
    a.bin_dir = os.path.abspath(a.bin_dir)
    if not a.workdir:
        import tempfile
        a.workdir = tempfile.mkdtemp(prefix="promote-bench.")
    return a


def median(xs):
    return statistics.median(xs) if xs else None


def fmt_s(s):
    if s is None:
        return "-"
    return f"{s * 1000:.1f} ms" if s < 1 else f"{s:.2f} s"


# Every measured process is started by this launcher, a fresh interpreter without site packages,
# which times it and reads its rusage with wait4. Not straight from the driver: a child's ru_maxrss
# starts from the hiwater mark of the memory it was forked from (with vfork, as subprocess uses,
# the parent's own), so a /bin/true spawned by a Python holding 200 MB reports 215 MB. Forked from
# the launcher, a child reports at least the launcher's ~5 MB, below any of the tools' (--version
# alone peaks near 6 MB); its startup is outside the time measured.
LAUNCHER = """
import os, sys, time
fd = int(sys.argv[1])
t0 = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.execvp(sys.argv[2], sys.argv[2:])
    finally:
        os._exit(127)
_, status, ru = os.wait4(pid, 0)
wall = time.perf_counter() - t0
os.write(fd, ("%d %r %r %r %d" % (os.waitstatus_to_exitcode(status), wall, ru.ru_utime, ru.ru_stime,
                                  ru.ru_maxrss)).encode())
"""


class Failure(Exception):
    """A check failed: the run did not do what it is timed for."""


class Emulator:
    """The emulator seen from outside: its request log (to count the calls a run makes) and its CPU."""

    REQUEST = re.compile(r'"(?:\x1b\[[0-9;]*m)?(GET|POST|PUT|DELETE|HEAD|PATCH) (\S+) HTTP/')

    def __init__(self, endpoint, pid, log):
        self.endpoint = endpoint
        u = urllib.parse.urlparse(endpoint)
        self.host, self.port = u.hostname, u.port
        self.pid, self.log = pid, log

    def log_offset(self):
        return os.path.getsize(self.log)

    def requests_since(self, offset):
        """(method, path) of every request logged since offset. werkzeug logs a request after
        answering it, so once a client has its answers the lines are there."""
        with open(self.log, "rb") as f:
            f.seek(offset)
            text = f.read().decode("utf-8", "replace")
        return self.REQUEST.findall(text)

    def cpu(self):
        """The emulator's CPU seconds so far (user + system), or None when its pid is unknown."""
        if not self.pid:
            return None
        with open(f"/proc/{self.pid}/stat") as f:
            rest = f.read().rsplit(")", 1)[1].split()
        return (int(rest[11]) + int(rest[12])) / os.sysconf("SC_CLK_TCK")


class Bench:
    ATTEMPT = re.compile(r'rpc\.service="([^"]+)" rpc\.method="([^"]+)".*beginning attempt #(\d+)')

    def __init__(self, args):
        import boto3
        from botocore.config import Config

        self.a = args
        self.emu = Emulator(args.endpoint, args.emulator_pid, args.emulator_log)
        self.work = args.workdir
        os.makedirs(self.work, exist_ok=True)
        self.commands = []
        self.scripts = {}
        self.figures = []
        self.extra = {}
        # Only the emulator, dummy credentials, no profile or config file of the machine's user,
        # no instance metadata lookups, and the tools' client-side rate limit off: the limit is
        # for real AWS, and the emulator is what is measured against.
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PROMOTE_"))}
        env.update({
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ENDPOINT_URL": args.endpoint,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": os.path.join(self.work, "no-aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": os.path.join(self.work, "no-aws-credentials"),
            "AWS_PAGER": "",
            "PROMOTE_RATE_LIMIT": "0",
        })
        self.env = env
        config = Config(retries={"mode": "standard", "max_attempts": 3}, max_pool_connections=16,
                        s3={"addressing_style": "path"})
        session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                        region_name=REGION)
        self.client = lambda service: session.client(service, endpoint_url=args.endpoint, config=config)
        self.toml = os.path.join(self.work, "promote.toml")
        self.toml_sections = {}
        self.write_toml(None, None)
        # The binaries as they are now: a rebuild in target/ during the run must not mix builds.
        self.bin_dir = os.path.join(self.work, "bin")
        os.makedirs(self.bin_dir, exist_ok=True)
        self.binaries = {}
        for tool in TOOLS:
            shutil.copy2(os.path.join(args.bin_dir, tool), self.bin_dir)
            with open(os.path.join(self.bin_dir, tool), "rb") as f:
                digest = hashlib.sha256(f.read()).hexdigest()
            mtime = os.path.getmtime(os.path.join(args.bin_dir, tool))
            self.binaries[tool] = {"sha256": digest, "built": datetime.datetime.fromtimestamp(
                mtime, datetime.timezone.utc).isoformat(timespec="seconds")}

    # ---- running and timing -------------------------------------------------------------------

    def bin(self, tool):
        return os.path.join(self.bin_dir, tool)

    def note(self, cmd, stdin=None, stdout=None):
        """The commands, as they would be typed in the work directory with the tools on PATH."""
        text = " ".join(cmd) + (f" < {stdin}" if stdin else "") + (f" > {stdout}" if stdout else "")
        text = text.replace(self.bin_dir + "/", "").replace(self.work + "/", "")
        if text not in self.commands:
            self.commands.append(text)

    def run(self, cmd, stdin=None, stdout=None, env=None, check=True):
        """Run one process to its end, through LAUNCHER: its wall time, CPU and peak RSS (for a
        shell loop, CPU includes the children it waited for), the emulator's CPU over the same
        time, and the requests it made."""
        self.note(cmd, stdin, stdout)
        fin = open(stdin, "rb") if stdin else subprocess.DEVNULL
        fout = open(stdout, "wb") if stdout else subprocess.DEVNULL
        errpath = os.path.join(self.work, "stderr.txt")
        ferr = open(errpath, "wb")
        offset = self.emu.log_offset()
        cpu0 = self.emu.cpu()
        r, w = os.pipe()
        try:
            p = subprocess.Popen([sys.executable, "-S", "-I", "-c", LAUNCHER, str(w), *cmd], pass_fds=(w,),
                                 stdin=fin, stdout=fout, stderr=ferr, cwd=self.work, env=env or self.env)
            os.close(w)
            p.wait()
            with os.fdopen(r, "rb") as f:
                report = f.read().split()
        finally:
            for f in (fin, fout, ferr):
                if f is not subprocess.DEVNULL:
                    f.close()
        cpu1 = self.emu.cpu()
        if p.returncode != 0 or len(report) != 5:
            raise Failure(f"the launcher of {' '.join(cmd)} failed (exit {p.returncode})")
        code, wall, user, system, maxrss = int(report[0]), *map(float, report[1:4]), int(report[4])
        result = {
            "wall_s": wall,
            "user_s": user,
            "sys_s": system,
            "maxrss_kib": maxrss,
            "emulator_cpu_s": None if cpu0 is None else cpu1 - cpu0,
            "calls": len(self.emu.requests_since(offset)),
            "exit": code,
        }
        if check and code != 0:
            with open(errpath, errors="replace") as f:
                err = f.read()[-3000:]
            raise Failure(f"{' '.join(cmd)} exited {code}:\n{err}")
        return result

    def operations(self, cmd, stdin, stdout):
        """Which AWS operations a run makes, by name, from the SDK's debug log (-vvv): the
        emulator's log has no names for JSON protocols such as ECS's, all `POST /`. Slower than
        a quiet run, so never one of the timed ones."""
        offset = self.emu.log_offset()
        self.run(cmd + ["-vvv"], stdin=stdin, stdout=stdout)
        counts = {}
        with open(os.path.join(self.work, "stderr.txt"), errors="replace") as f:
            for line in f:
                m = self.ATTEMPT.search(line)
                if m:
                    op = f"{m[1]}.{m[2]}" + ("" if m[3] == "1" else " (retry)")
                    counts[op] = counts.get(op, 0) + 1
        logged = len(self.emu.requests_since(offset))
        if sum(counts.values()) != logged:
            raise Failure(f"-vvv shows {sum(counts.values())} attempts, the emulator logged {logged}")
        return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))

    def cli_script(self, name, body):
        """A shell loop as a user would write it: one AWS CLI process per call."""
        path = os.path.join(self.work, f"{name}.sh")
        text = ("set -euo pipefail\n"
                'aws() { "$BENCH_AWS" --endpoint-url "$BENCH_ENDPOINT" "$@"; }\n' + body)
        with open(path, "w") as f:
            f.write(text)
        self.scripts[f"{name}.sh"] = text.replace(self.work + "/", "")
        return path

    def run_cli(self, script):
        env = dict(self.env, BENCH_AWS=self.a.aws, BENCH_ENDPOINT=self.a.endpoint)
        return self.run(["bash", script], env=env)

    def pool(self, fn, items):
        """Seeding and checking through boto3, a few calls in flight: only setup, never timed."""
        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as ex:
            return list(ex.map(fn, items))

    # ---- the emulator's own latency -----------------------------------------------------------

    def probe(self, service, method, path, body=None, headers=None, n=200):
        """Median latency of one cheap call on a kept-alive connection (moto does not check
        signatures but routes by the service in the credential scope), then the time per call
        with TOOL_CONCURRENCY connections at once: what the emulator gives a concurrent client."""
        auth = (f"AWS4-HMAC-SHA256 Credential=testing/20260101/{REGION}/{service}/aws4_request, "
                "SignedHeaders=host, Signature=0")
        hdrs = {"Authorization": auth, **(headers or {})}

        def one(conn):
            t0 = time.perf_counter()
            conn.request(method, path, body=body, headers=hdrs)
            r = conn.getresponse()
            r.read()
            if r.status >= 300:
                raise Failure(f"probe {method} {path}: HTTP {r.status}")
            return time.perf_counter() - t0

        conn = http.client.HTTPConnection(self.emu.host, self.emu.port, timeout=30)
        for _ in range(10):
            one(conn)
        serial = [one(conn) for _ in range(n)]
        conn.close()

        per_thread = max(2 * n // TOOL_CONCURRENCY, 10)

        def worker(_):
            c = http.client.HTTPConnection(self.emu.host, self.emu.port, timeout=30)
            one(c)
            barrier.wait()
            for _ in range(per_thread):
                one(c)
            c.close()

        barrier = threading.Barrier(TOOL_CONCURRENCY + 1, timeout=60)
        with concurrent.futures.ThreadPoolExecutor(max_workers=TOOL_CONCURRENCY) as ex:
            futures = [ex.submit(worker, i) for i in range(TOOL_CONCURRENCY)]
            barrier.wait()
            cpu0 = self.emu.cpu()
            t0 = time.perf_counter()
            for f in futures:
                f.result()
            wall = time.perf_counter() - t0
            cpu1 = self.emu.cpu()
        calls = per_thread * TOOL_CONCURRENCY
        return {
            "call": f"{method} {path}",
            "median_s": median(serial),
            "p90_s": sorted(serial)[int(len(serial) * 0.9)],
            "samples_s": serial,
            "concurrent_per_call_s": wall / calls,
            # Close to concurrent_per_call_s: the emulator works on one request at a time.
            "emulator_cpu_per_call_s": None if cpu0 is None else (cpu1 - cpu0) / calls,
            "concurrency": TOOL_CONCURRENCY,
        }

    # ---- promote.toml -------------------------------------------------------------------------

    def write_toml(self, section, text):
        """One promote.toml for every section, rewritten as each service is seeded."""
        if section:
            self.toml_sections[section] = text
        with open(self.toml, "w") as f:
            f.write('[envs]\norder = ["dev", "staging", "prod"]\n')
            for s in self.toml_sections.values():
                f.write("\n" + s)

    # ---- figures ------------------------------------------------------------------------------

    def add(self, **fig):
        self.figures.append(fig)
        print(f"  => {fig['figure']}: tool {fig.get('tool_fmt', '-')}, baseline "
              f"{fig.get('baseline_fmt', '-')}, {fig.get('ratio_fmt', '-')} "
              f"(target {fig.get('target', '-')}: {'met' if fig.get('met') else 'missed' if fig.get('met') is False else 'n/a'})",
              flush=True)

    def startup(self):
        print("== startup: --version of every binary", flush=True)
        for tool in TOOLS:
            samples = [self.run([self.bin(tool), "--version"])["wall_s"] for _ in range(self.a.reps)]
            size = os.path.getsize(self.bin(tool))
            self.add(figure=f"startup {tool} --version", section="startup", tool_median_s=median(samples),
                     tool_samples_s=samples, size_bytes=size, tool_fmt=fmt_s(median(samples)),
                     baseline_fmt=f"{size / 1e6:.1f} MB binary", ratio_fmt="-", target="-", met=None)

    # -- Lambda --

    def seed_lambda(self):
        n = self.a.functions
        print(f"== seeding {n} Lambda functions", flush=True)
        iam, lam = self.client("iam"), self.client("lambda")
        role = iam.create_role(
            RoleName="bench-lambda",
            AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]

        def package(name, build):
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w") as z:
                z.writestr("app.py", f"def handler(event, context):\n    return {name!r} + ' build {build}'\n")
            return buf.getvalue()

        def seed(name):
            lam.create_function(FunctionName=name, Runtime="python3.12", Role=role, Handler="app.handler",
                                Code={"ZipFile": package(name, 1)},
                                Environment={"Variables": {"LOG_LEVEL": "info"}})
            v1 = lam.publish_version(FunctionName=name)["Version"]
            lam.update_function_code(FunctionName=name, ZipFile=package(name, 2))
            v2 = lam.publish_version(FunctionName=name)["Version"]
            # staging validated build 2; prod still runs build 1.
            for alias, v in (("dev", v2), ("staging", v2), ("prod", v1)):
                lam.create_alias(FunctionName=name, Name=alias, FunctionVersion=v)
            return v1, v2

        self.functions = [f"bench-fn-{i:03d}" for i in range(n)]
        self.fn_versions = dict(zip(self.functions, self.pool(seed, self.functions)))
        self.write_toml("lambda", "[lambda]\nfunctions = [" +
                        ", ".join(f'"{f}"' for f in self.functions) + ']\nalias = "{env}"\n')

    def lambda_prod(self):
        lam = self.client("lambda")
        return dict(zip(self.functions, self.pool(
            lambda f: lam.get_alias(FunctionName=f, Name="prod")["FunctionVersion"], self.functions)))

    def lambda_reset(self):
        lam = self.client("lambda")
        self.pool(lambda f: lam.update_alias(FunctionName=f, Name="prod",
                                             FunctionVersion=self.fn_versions[f][0]), self.functions)
        self.lambda_check(want_staging=False)

    def lambda_check(self, want_staging):
        prod = self.lambda_prod()
        want = {f: v[1] if want_staging else v[0] for f, v in self.fn_versions.items()}
        wrong = [f for f in self.functions if prod[f] != want[f]]
        if wrong:
            raise Failure(f"{len(wrong)} prod aliases do not hold {'staging' if want_staging else 'their own'} "
                          f"version: {wrong[0]} holds {prod[wrong[0]]}, not {want[wrong[0]]}")

    def read(self):
        """One function's aliases: what `status F` shows, against one `get-alias` per alias."""
        f = self.functions[0]
        print(f"== one read: lambda-promote status {f} vs aws lambda get-alias per alias", flush=True)
        out = os.path.join(self.work, "read.ndjson")
        tool = []
        for _ in range(self.a.reps):
            r = self.run([self.bin("lambda-promote"), "status", f, "--config", self.toml], stdout=out)
            with open(out) as fh:
                records = [json.loads(line) for line in fh]
            if sorted(r_["pointer"] for r_ in records) != ["dev", "prod", "staging"]:
                raise Failure(f"status {f} printed {records}")
            tool.append(r)
        script = self.cli_script("read-cli", f"for alias in dev staging prod; do\n"
                                             f"  aws lambda get-alias --function-name {f} --name \"$alias\" >/dev/null\n"
                                             "done\n")
        cli = [self.run_cli(script) for _ in range(self.a.reps)]
        self.ratio_figure("one read (3 aliases)", "read", tool, cli, 1, f"lambda-promote status {f}",
                          "3 x aws lambda get-alias", TARGET_READ_SPEEDUP)

    def ratio_figure(self, name, section, tool, cli, n, tool_cmd, cli_cmd, target):
        t = median([r["wall_s"] for r in tool])
        c = median([r["wall_s"] for r in cli])
        self.add(figure=name, section=section, items=n, tool_command=tool_cmd, baseline_command=cli_cmd,
                 tool_median_s=t, baseline_median_s=c, tool_runs=tool, baseline_runs=cli,
                 speedup=c / t, tool_fmt=fmt_s(t), baseline_fmt=fmt_s(c), ratio_fmt=f"{c / t:.1f}x faster",
                 target=f">= {target}x", met=c / t >= target)

    def promote_figures(self, service, label, n, tool_cmd, tool_runs, cli_runs, probe, manifest_runs, operations,
                        cli_desc):
        """Two figures per service: against the CLI loop, and against the emulator's floor."""
        self.ratio_figure(f"{label}: promote {n}", service, tool_runs, cli_runs, n,
                          tool_cmd, cli_desc, TARGET_PROMOTE_SPEEDUP)
        calls = median([r["calls"] for r in tool_runs]) / n
        floor = calls * n * probe["median_s"] / TOOL_CONCURRENCY
        concurrent_floor = calls * n * probe["concurrent_per_call_s"]
        t = median([r["wall_s"] for r in tool_runs])
        emu_cpu = [r["emulator_cpu_s"] for r in tool_runs if r["emulator_cpu_s"] is not None]
        self.add(figure=f"{label}: promote {n} vs floor", section=service, items=n,
                 calls_per_item=calls, cli_calls_per_item=median([r["calls"] for r in cli_runs]) / n,
                 call_latency_s=probe["median_s"], concurrency=TOOL_CONCURRENCY,
                 floor_s=floor, concurrent_floor_s=concurrent_floor, tool_median_s=t,
                 factor=t / floor, operations=operations, probe=probe, manifest_runs=manifest_runs,
                 emulator_cpu_share=median([c / r["wall_s"] for c, r in zip(emu_cpu, tool_runs)]) if emu_cpu else None,
                 tool_cpu_share=median([(r["user_s"] + r["sys_s"]) / r["wall_s"] for r in tool_runs]),
                 tool_fmt=fmt_s(t),
                 baseline_fmt=f"floor {fmt_s(floor)} ({calls:g} calls x {probe['median_s'] * 1000:.2f} ms / {TOOL_CONCURRENCY})",
                 ratio_fmt=f"{t / floor:.2f}x floor", target=f"<= {TARGET_FLOOR_FACTOR}x floor",
                 met=t / floor <= TARGET_FLOOR_FACTOR)

    def promote_bench(self, service, label, tool, n, probe, reset, check_tool, check_cli, cli_body, cli_desc,
                      status_stdin=None):
        """The shape every service shares: a manifest of staging (untimed, but kept), then the
        tool promoting it into prod in one process, then the CLI loop doing the same; prod is put
        back before every run and checked after it."""
        manifest = os.path.join(self.work, f"{service}-manifest.ndjson")
        promoted = os.path.join(self.work, f"{service}-promoted.ndjson")
        cmd = [self.bin(tool), "promote", "--to", "prod", "--config", self.toml]

        def check_promoted():
            with open(promoted) as f:
                actions = [json.loads(line)["action"] for line in f]
            if actions.count("promoted") != n or len(actions) != n:
                raise Failure(f"{tool} promote: {actions.count('promoted')} promoted of {n}: {actions[:5]}")
            check_tool()

        manifest_runs, tool_runs = [], []
        for _ in range(self.a.reps):
            reset()
            manifest_runs.append(self.run([self.bin(tool), "status", "--env", "staging",
                                           "--config", self.toml], stdin=status_stdin, stdout=manifest))
            with open(manifest) as f:
                if sum(1 for _ in f) != n:
                    raise Failure(f"{tool} status wrote no manifest of {n} records")
            r = self.run(cmd, stdin=manifest, stdout=promoted)
            check_promoted()
            tool_runs.append(r)
            print(f"  {tool} promote {n}: {fmt_s(r['wall_s'])}, {r['calls']} calls", flush=True)
        reset()
        operations = self.operations(cmd, manifest, promoted)
        check_promoted()
        cli_runs = []
        script = self.cli_script(f"{service}-cli", cli_body)
        for _ in range(self.a.slow_reps):
            reset()
            r = self.run_cli(script)
            check_cli()
            cli_runs.append(r)
            print(f"  CLI loop {n}: {fmt_s(r['wall_s'])}, {r['calls']} calls", flush=True)
        tool_cmd = f"{tool} promote --to prod --config promote.toml < {os.path.basename(manifest)}"
        self.promote_figures(service, label, n, tool_cmd, tool_runs, cli_runs, probe, manifest_runs, operations,
                             cli_desc)

    def lambda_(self):
        n = len(self.functions)
        print(f"== Lambda: promote {n} functions staging -> prod", flush=True)
        probe = self.probe("lambda", "GET", f"/2015-03-31/functions/{self.functions[0]}/aliases/staging")
        names = os.path.join(self.work, "functions.txt")
        with open(names, "w") as f:
            f.write("\n".join(self.functions) + "\n")
        body = (f"while read -r f; do\n"
                "  v=$(aws lambda get-alias --function-name \"$f\" --name staging --query FunctionVersion --output text)\n"
                "  aws lambda update-alias --function-name \"$f\" --name prod --function-version \"$v\" >/dev/null\n"
                f"done < {names}\n")
        check = lambda: self.lambda_check(want_staging=True)  # noqa: E731
        self.promote_bench("lambda", "Lambda", "lambda-promote", n, probe, self.lambda_reset, check, check,
                           body, "aws lambda get-alias + update-alias per function")

    # -- ECS --

    def seed_ecs(self):
        n = self.a.services
        print(f"== seeding {n} ECS services per environment", flush=True)
        ecr, ecs = self.client("ecr"), self.client("ecs")
        ecr.create_repository(repositoryName="bench/web")
        self.digests = {}
        for build in (1, 2):
            config = hashlib.sha256(f"bench-web-{build}".encode()).hexdigest()
            manifest = json.dumps({"schemaVersion": 2, "mediaType": MANIFEST_TYPE, "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json", "size": 7,
                "digest": f"sha256:{config}"}, "layers": []}, separators=(",", ":"))
            digest = "sha256:" + hashlib.sha256(manifest.encode()).hexdigest()
            ecr.put_image(repositoryName="bench/web", imageManifest=manifest, imageManifestMediaType=MANIFEST_TYPE,
                          imageTag=f"build-{build}", imageDigest=digest)
            self.digests[f"build-{build}"] = digest
        for env in ("staging", "prod"):
            ecs.create_cluster(clusterName=f"bench-{env}")
        self.services = [f"svc-{i:03d}" for i in range(n)]

        def seed(args):
            svc, env = args
            td = ecs.register_task_definition(
                family=f"bench-{svc}-{env}", cpu="256", memory="512",
                executionRoleArn=f"arn:aws:iam::{ACCOUNT}:role/bench-{env}-exec",
                containerDefinitions=[{
                    "name": "web", "memory": 128,
                    "image": f"{REGISTRY}/bench/web:build-{2 if env == 'staging' else 1}",
                    "environment": [{"name": "DB_HOST", "value": f"db.{env}.internal"}]}],
            )["taskDefinition"]["taskDefinitionArn"]
            ecs.create_service(cluster=f"bench-{env}", serviceName=svc, taskDefinition=td, desiredCount=1)
            return td

        pairs = [(s, e) for s in self.services for e in ("staging", "prod")]
        self.ecs_tds = dict(zip(pairs, self.pool(seed, pairs)))
        self.write_toml("ecs", '[ecs]\ncluster = "bench-{env}"\nservices = [' +
                        ", ".join(f'"{s}"' for s in self.services) + "]\n")

    def ecs_images(self, env):
        """The digest each service of env runs (a tag resolved through ECR, as the seed pushed it)."""
        ecs = self.client("ecs")
        batches = [self.services[i:i + 10] for i in range(0, len(self.services), 10)]

        def describe(batch):
            return ecs.describe_services(cluster=f"bench-{env}", services=batch)["services"]

        running = {s["serviceName"]: s["taskDefinition"] for b in self.pool(describe, batches) for s in b}

        def image(svc):
            td = ecs.describe_task_definition(taskDefinition=running[svc])["taskDefinition"]
            ref = td["containerDefinitions"][0]["image"]
            digest = ref.split("@", 1)[1] if "@" in ref else self.digests.get(ref.rsplit(":", 1)[1])
            return td["family"], digest

        return dict(zip(self.services, self.pool(image, self.services)))

    def ecs_reset(self):
        ecs = self.client("ecs")
        self.pool(lambda s: ecs.update_service(cluster="bench-prod", service=s,
                                               taskDefinition=self.ecs_tds[(s, "prod")]), self.services)
        wrong = [s for s, (_, d) in self.ecs_images("prod").items() if d != self.digests["build-1"]]
        if wrong:
            raise Failure(f"ECS reset: {len(wrong)} prod services not back on build 1")

    def ecs_check(self, own_config):
        wrong = []
        for s, (family, digest) in self.ecs_images("prod").items():
            if digest != self.digests["build-2"] or (own_config and family != f"bench-{s}-prod"):
                wrong.append((s, family, digest))
        if wrong:
            raise Failure(f"{len(wrong)} prod services do not run staging's image: first {wrong[0]}")

    def ecs(self):
        n = len(self.services)
        print(f"== ECS: promote {n} services staging -> prod", flush=True)
        probe = self.probe("ecs", "POST", "/", json.dumps({"cluster": "bench-staging", "services": [self.services[0]]}),
                           {"X-Amz-Target": "AmazonEC2ContainerServiceV20141113.DescribeServices",
                            "Content-Type": "application/x-amz-json-1.1"})
        names = os.path.join(self.work, "services.txt")
        with open(names, "w") as f:
            f.write("\n".join(self.services) + "\n")
        # The least a shell user can do: run staging's task definition in prod. It is less than
        # the tool does (prod's own environment, roles and sizes are lost), so the ratio is a lower
        # bound of the tool's advantage.
        body = ("while read -r s; do\n"
                "  td=$(aws ecs describe-services --cluster bench-staging --services \"$s\" "
                "--query 'services[0].taskDefinition' --output text)\n"
                "  aws ecs update-service --cluster bench-prod --service \"$s\" --task-definition \"$td\" >/dev/null\n"
                f"done < {names}\n")
        # The tool must also have kept prod's own task definition (its configuration); the CLI
        # loop does not.
        self.promote_bench("ecs", "ECS", "ecs-pin", n, probe, self.ecs_reset,
                           lambda: self.ecs_check(own_config=True), lambda: self.ecs_check(own_config=False),
                           body, "aws ecs describe-services + update-service per service")

    # -- API Gateway --

    def seed_apigateway(self):
        n = self.a.services
        print(f"== seeding {n} REST APIs with staging and prod stages", flush=True)
        apigw = self.client("apigateway")

        def seed(i):
            api = apigw.create_rest_api(name=f"bench-api-{i:03d}")["id"]
            root = next(r["id"] for r in apigw.get_resources(restApiId=api)["items"] if r["path"] == "/")
            apigw.put_method(restApiId=api, resourceId=root, httpMethod="GET", authorizationType="NONE")
            apigw.put_integration(restApiId=api, resourceId=root, httpMethod="GET", type="MOCK")
            one = apigw.create_deployment(restApiId=api, description="one")["id"]
            two = apigw.create_deployment(restApiId=api, description="two")["id"]
            for stage, d in (("staging", two), ("prod", one)):
                apigw.create_stage(restApiId=api, stageName=stage, deploymentId=d,
                                   variables={"backend": f"https://{stage}.bench.internal"})
            return api, (one, two)

        self.apis = dict(self.pool(seed, range(n)))
        # rest_api is required, and names one API; the manifest's records name all the others.
        self.write_toml("apigateway", f'[apigateway]\nrest_api = "{next(iter(self.apis))}"\nstage = "{{env}}"\n')
        self.api_names = os.path.join(self.work, "apis.ndjson")
        with open(self.api_names, "w") as f:
            for api in self.apis:
                f.write(json.dumps({"service": "apigateway", "action": "resolved", "resource": api,
                                    "region": REGION, "env": "staging", "pointer": "staging",
                                    "artifact": None, "previous": None}) + "\n")

    def apigateway_prod(self):
        apigw = self.client("apigateway")
        return dict(zip(self.apis, self.pool(
            lambda a: apigw.get_stage(restApiId=a, stageName="prod")["deploymentId"], list(self.apis))))

    def apigateway_reset(self):
        apigw = self.client("apigateway")
        self.pool(lambda a: apigw.update_stage(restApiId=a, stageName="prod", patchOperations=[
            {"op": "replace", "path": "/deploymentId", "value": self.apis[a][0]}]), list(self.apis))
        if any(d != self.apis[a][0] for a, d in self.apigateway_prod().items()):
            raise Failure("API Gateway reset: a prod stage is not back on deployment one")

    def apigateway_check(self):
        wrong = [a for a, d in self.apigateway_prod().items() if d != self.apis[a][1]]
        if wrong:
            raise Failure(f"{len(wrong)} prod stages do not run staging's deployment: first {wrong[0]}")

    def apigateway(self):
        n = len(self.apis)
        print(f"== API Gateway: promote {n} stages staging -> prod", flush=True)
        probe = self.probe("apigateway", "GET", f"/restapis/{next(iter(self.apis))}/stages/staging")
        names = os.path.join(self.work, "apis.txt")
        with open(names, "w") as f:
            f.write("\n".join(self.apis) + "\n")
        body = ("while read -r a; do\n"
                "  d=$(aws apigateway get-stage --rest-api-id \"$a\" --stage-name staging --query deploymentId --output text)\n"
                "  aws apigateway update-stage --rest-api-id \"$a\" --stage-name prod "
                "--patch-operations \"op=replace,path=/deploymentId,value=$d\" >/dev/null\n"
                f"done < {names}\n")
        self.promote_bench("apigateway", "API Gateway", "apigw-stage", n, probe, self.apigateway_reset,
                           self.apigateway_check, self.apigateway_check, body,
                           "aws apigateway get-stage + update-stage per stage", status_stdin=self.api_names)

    # -- S3 --

    def seed_s3(self):
        n = self.a.services
        print(f"== seeding {n} S3 objects per environment", flush=True)
        s3 = self.client("s3")
        s3.create_bucket(Bucket="bench-art")
        s3.put_bucket_versioning(Bucket="bench-art", VersioningConfiguration={"Status": "Enabled"})
        self.objects = [f"obj-{i:03d}.zip" for i in range(n)]
        self.s3_bytes = {(o, b): (f"{o} build {b}\n" * 256).encode() for o in self.objects for b in (1, 2)}

        def seed(o):
            for env, build in (("staging", 2), ("prod", 1)):
                s3.put_object(Bucket="bench-art", Key=f"{env}/{o}", Body=self.s3_bytes[(o, build)],
                              ContentType="application/zip")

        self.pool(seed, self.objects)
        self.write_toml("s3", "[s3]\nobjects = [" +
                        ", ".join(f'"s3://bench-art/{{env}}/{o}"' for o in self.objects) + "]\n")

    def s3_etags(self, env):
        s3 = self.client("s3")
        return dict(zip(self.objects, self.pool(
            lambda o: s3.head_object(Bucket="bench-art", Key=f"{env}/{o}")["ETag"].strip('"'), self.objects)))

    def s3_reset(self):
        s3 = self.client("s3")
        # A new version with build 1's bytes, so the next promotion has something to copy.
        self.pool(lambda o: s3.put_object(Bucket="bench-art", Key=f"prod/{o}", Body=self.s3_bytes[(o, 1)],
                                          ContentType="application/zip"), self.objects)
        if self.s3_etags("prod") == self.s3_etags("staging"):
            raise Failure("S3 reset: prod still holds staging's bytes")

    def s3_check(self):
        staging, prod = self.s3_etags("staging"), self.s3_etags("prod")
        wrong = [o for o in self.objects if prod[o] != staging[o]]
        if wrong:
            raise Failure(f"{len(wrong)} prod objects do not hold staging's bytes: first {wrong[0]}")

    def s3(self):
        n = len(self.objects)
        print(f"== S3: promote {n} objects staging -> prod", flush=True)
        probe = self.probe("s3", "HEAD", f"/bench-art/staging/{self.objects[0]}")
        names = os.path.join(self.work, "objects.txt")
        with open(names, "w") as f:
            f.write("\n".join(self.objects) + "\n")
        body = ("while read -r o; do\n"
                "  v=$(aws s3api head-object --bucket bench-art --key \"staging/$o\" --query VersionId --output text)\n"
                "  aws s3api copy-object --bucket bench-art --key \"prod/$o\" "
                "--copy-source \"bench-art/staging/$o?versionId=$v\" >/dev/null\n"
                f"done < {names}\n")
        self.promote_bench("s3", "S3", "s3-version", n, probe, self.s3_reset, self.s3_check, self.s3_check, body,
                           "aws s3api head-object + copy-object per object")

    # -- pass-through --

    def passthrough(self):
        n = self.a.records
        print(f"== pass-through: {n} ecs and s3 records through lambda-promote promote", flush=True)
        path = os.path.join(self.work, "foreign.ndjson")
        with open(path, "w") as f:
            for i in range(n):
                h = hashlib.sha256(str(i).encode()).hexdigest()
                svc = f"svc-{i % 1000:03d}"
                if i % 2 == 0:
                    rec = {"service": "ecs", "action": "resolved", "resource": f"bench-staging/{svc}",
                           "region": REGION, "env": "staging", "pointer": svc,
                           "artifact": {"task_definition": f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/bench-{svc}-staging:{i % 97 + 1}",
                                        "images": [{"container": "web", "image": f"{REGISTRY}/bench/web@sha256:{h}",
                                                    "digest": f"sha256:{h}"}]},
                           "previous": None}
                else:
                    rec = {"service": "s3", "action": "resolved", "resource": f"bench-art/staging/obj-{i}.zip",
                           "region": REGION, "env": "staging", "pointer": f"staging/obj-{i}.zip",
                           "artifact": {"version_id": str(uuid.UUID(h[:32])), "etag": h[:32], "size": i,
                                        "checksum": "crc32:" + h[:6] + "=="},
                           "previous": None}
                f.write(json.dumps(rec, separators=(",", ":")) + "\n")
        size = os.path.getsize(path)
        out = os.path.join(self.work, "foreign-out.ndjson")
        runs = []
        for _ in range(self.a.reps):
            r = self.run([self.bin("lambda-promote"), "promote", "--to", "prod", "--config", self.toml],
                         stdin=path, stdout=out)
            if not filecmp.cmp(path, out, shallow=False):
                raise Failure("pass-through output differs from its input")
            if r["calls"]:
                raise Failure(f"pass-through made {r['calls']} AWS calls")
            runs.append(r)
            print(f"  {n} records: {fmt_s(r['wall_s'])}, peak RSS {r['maxrss_kib'] * 1024 / 1e6:.1f} MB", flush=True)
        t = median([r["wall_s"] for r in runs])
        rate = n / t
        rss_mb = max(r["maxrss_kib"] for r in runs) * 1024 / 1e6
        common = dict(section="passthrough", items=n, input_bytes=size, runs=runs, tool_median_s=t,
                      tool_command=f"lambda-promote promote --to prod < {os.path.basename(path)}")
        self.add(figure=f"pass-through {n} records: rate", records_per_s=rate, mb_per_s=size / t / 1e6,
                 tool_fmt=fmt_s(t), baseline_fmt=f"{size / 1e6:.0f} MB in", ratio_fmt=f"{rate:,.0f} rec/s",
                 target=f">= {TARGET_RECORDS_PER_S:,} rec/s", met=rate >= TARGET_RECORDS_PER_S, **common)
        self.add(figure=f"pass-through {n} records: peak RSS", peak_rss_mb=rss_mb,
                 tool_fmt=f"{rss_mb:.1f} MB", baseline_fmt="-", ratio_fmt="-",
                 target=f"< {TARGET_RSS_MB} MB", met=rss_mb < TARGET_RSS_MB, **common)

    def longrecord(self):
        # One record of 50 MB (a manifest entry with a large annotation): the reader used to parse
        # a record cut across input blocks again from its start after every block, which made one
        # long record quadratic (50 MB took two minutes in a debug build).
        mb = 50
        print(f"== one {mb} MB record through lambda-promote promote", flush=True)
        path = os.path.join(self.work, "long.ndjson")
        blob = "x" * (mb * 1000 * 1000)
        rec = {"service": "ecs", "action": "resolved", "resource": "bench-staging/long", "region": REGION,
               "env": "staging", "pointer": "long",
               "artifact": {"task_definition": f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/long:1", "images": []},
               "previous": None, "note": blob}
        with open(path, "w") as f:
            f.write(json.dumps(rec, separators=(",", ":")) + "\n")
        size = os.path.getsize(path)
        out = os.path.join(self.work, "long-out.ndjson")
        runs = []
        for _ in range(max(1, min(self.a.reps, 5))):
            r = self.run([self.bin("lambda-promote"), "promote", "--to", "prod", "--config", self.toml],
                         stdin=path, stdout=out)
            if not filecmp.cmp(path, out, shallow=False):
                raise Failure("the long record came out changed")
            runs.append(r)
            print(f"  {size / 1e6:.0f} MB: {fmt_s(r['wall_s'])}, peak RSS {r['maxrss_kib'] * 1024 / 1e6:.1f} MB", flush=True)
        t = median([r["wall_s"] for r in runs])
        rss_mb = max(r["maxrss_kib"] for r in runs) * 1024 / 1e6
        self.add(figure=f"one {mb} MB record: time", section="longrecord", input_bytes=size, runs=runs,
                 tool_median_s=t, tool_command=f"lambda-promote promote --to prod < {os.path.basename(path)}",
                 tool_fmt=fmt_s(t), baseline_fmt=f"{size / 1e6:.0f} MB in", ratio_fmt=f"{size / t / 1e6:.0f} MB/s",
                 target="about 1 s", met=t <= 1.5, peak_rss_mb=rss_mb)

    # ---- the report ---------------------------------------------------------------------------

    def machine(self):
        def sh(*cmd):
            try:
                return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT).stdout.strip()
            except OSError:
                return None

        model = None
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
        with open("/proc/meminfo") as f:
            mem = f.readline().split()[1]
        return {
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "nproc": os.cpu_count(),
            "cpu_model": model,
            "mem_total_kib": int(mem),
            "kernel": platform.release(),
            "python": platform.python_version(),
            "git_commit": sh("git", "rev-parse", "HEAD"),
            "git_dirty": bool(sh("git", "status", "--porcelain", "--untracked-files=no")),
            "aws_cli": sh(self.a.aws, "--version"),
            "moto": sh(os.path.join(os.path.dirname(self.a.aws), "python"), "-c",
                       "import importlib.metadata as m; print(m.version('moto'))"),
            "bin_dir": self.a.bin_dir,
            "loadavg": open("/proc/loadavg").read().split()[:3],
            "binaries": {t: {"version": sh(self.bin(t), "--version"), **b} for t, b in self.binaries.items()},
        }

    def summary(self):
        rows = [("figure", "tool", "baseline", "ratio", "target", "result")]
        for f in self.figures:
            rows.append((f["figure"], f.get("tool_fmt", "-"), f.get("baseline_fmt", "-"), f.get("ratio_fmt", "-"),
                         f.get("target", "-"), {True: "met", False: "MISSED", None: "-"}[f.get("met")]))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        print()
        for i, r in enumerate(rows):
            print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
            if i == 0:
                print("  ".join("-" * w for w in widths))
        floors = [f for f in self.figures if "floor_s" in f]
        if floors:
            print("\nwhere the time goes (medians):")
        for f in floors:
            probe, emu = f["probe"], f["emulator_cpu_share"]
            ops = ", ".join(f"{k} {v / f['items']:g}" for k, v in f["operations"].items())
            print(f"  {f['figure'].split(':')[0]}: {f['calls_per_item']:g} calls per item ({ops}); "
                  f"the CLI loop {f['cli_calls_per_item']:g}\n"
                  f"    emulator: {probe['median_s'] * 1000:.2f} ms per call one at a time, "
                  f"{probe['concurrent_per_call_s'] * 1000:.2f} ms per call with {TOOL_CONCURRENCY} at once, so "
                  f"{fmt_s(f['concurrent_floor_s'])} for this run's calls at best "
                  + (f"(its CPU: {probe['emulator_cpu_per_call_s'] * 1000:.2f} ms per call) "
                     if probe["emulator_cpu_per_call_s"] is not None else "") +
                  f"(tool {f['tool_median_s'] / f['concurrent_floor_s']:.2f}x that)\n"
                  f"    CPU while the tool runs: tool {f['tool_cpu_share'] * 100:.0f}% of its wall time, emulator "
                  + (f"{emu * 100:.0f}%" if emu is not None else "unknown")
                  + f"; the manifest (status --env staging) took {fmt_s(median([r['wall_s'] for r in f['manifest_runs']]))}")

    def write(self, started):
        out = {
            "machine": self.machine(),
            "options": {k: v for k, v in vars(self.a).items() if k not in ("workdir",)},
            "environment": {k: v for k, v in self.env.items() if k.startswith(("AWS_", "PROMOTE_"))},
            "tool_concurrency": TOOL_CONCURRENCY,
            "duration_s": time.time() - started,
            "promote_toml": open(self.toml).read() if os.path.exists(self.toml) else None,
            "commands": self.commands,
            "cli_scripts": self.scripts,
            "figures": self.figures,
            **self.extra,
        }
        os.makedirs(os.path.dirname(os.path.abspath(self.a.out)), exist_ok=True)
        with open(self.a.out, "w") as f:
            json.dump(out, f, indent=1)
        print(f"\nresults: {self.a.out} ({time.time() - started:.0f} s in all)")


def main():
    args = parse_args()
    missing = [t for t in TOOLS if not os.access(os.path.join(args.bin_dir, t), os.X_OK)]
    if missing:
        sys.exit(f"bench: no {', '.join(missing)} in {args.bin_dir}")
    started = time.time()
    b = Bench(args)
    load_at_start = open("/proc/loadavg").read().split()[:3]
    print(f"load average at start: {' '.join(load_at_start)} ({os.cpu_count()} CPUs)", flush=True)
    b.extra["loadavg_at_start"] = load_at_start
    only = set(args.only)
    try:
        if "startup" in only:
            b.startup()
        if only & {"read", "lambda"}:
            b.seed_lambda()
        if "read" in only:
            b.read()
        if "lambda" in only:
            b.lambda_()
        if "ecs" in only:
            b.seed_ecs()
            b.ecs()
        if "apigateway" in only:
            b.seed_apigateway()
            b.apigateway()
        if "s3" in only:
            b.seed_s3()
            b.s3()
        if "passthrough" in only:
            b.passthrough()
        if "longrecord" in only:
            b.longrecord()
    except Failure as e:
        b.summary()
        b.write(started)
        sys.exit(f"bench: FAILED: {e}")
    b.summary()
    b.write(started)


if __name__ == "__main__":
    main()

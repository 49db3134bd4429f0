#!/usr/bin/env python3
"""Load generator for Matrix question-answering bots (kratom-bot and the echo baselines).

Creates N group rooms, each with the bot and the same M users (M >= 2, so no room is a DM),
has the users ask questions at R per second overall for D seconds, spread round-robin over the
rooms and their members, and measures for each question the time from just before the send
request until the asker's own /sync returns a message from the bot whose
m.relates_to.m.in_reply_to.event_id is the question. Replies still missing after a grace
period are counted; so are duplicate replies. Also reported: the same latency from the
server's clock (the reply's origin_server_ts minus the question's: the bot's share, without the
load generator's own delays). With --bot-pid it samples the bot's VmRSS from /proc every second
(peak, and at the end of the load).

Rooms are unencrypted: matrix-nio is installed without its e2e extra, so it cannot send or read
encrypted rooms. Only plain rooms are measured.

  loadgen.py --homeserver http://127.0.0.1:PORT --synapse-dir DIR --bot @kratom-bot:localhost \
      --rooms 4 --users 2 --rate 2 --duration 20 --prefix '!kratom ' --bot-pid PID --json out.json

Users are registered through `scripts/synapse.sh register DIR PORT USER PASSWORD` (an existing
account is reused) and log in afresh on every run; every run creates new rooms. The JSON result
lists the rooms (room_ids).

Probe mode (--probe ROOM_ID) measures one answer after a restart of the bot instead: the first
user of --user-prefix (the account a load run created, already in ROOM_ID) logs in and syncs,
creates --ready-file, waits for --start-file (which holds the Unix time at which the bot process
was started), sends one question into ROOM_ID at once and waits for the bot's reply to it. It
reports the seconds from the bot's start to the reply (as seen by the asker's sync, and by the
reply's origin_server_ts; loopback, so both clocks are this machine's):

  loadgen.py --homeserver URL --synapse-dir DIR --bot @bench-kratom:localhost \
      --user-prefix load-kratom- --prefix '!kratom ' --probe '!room:localhost' \
      --ready-file ready --start-file start --json probe.json
"""

import argparse
import asyncio
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from nio import AsyncClient, RoomCreateError, RoomPreset, RoomSendResponse, SyncError

REPO = Path(__file__).resolve().parent.parent
SYNAPSE_SH = REPO / "scripts" / "synapse.sh"

# On-topic questions, so kratom-bot does its full triage and renders a real template. None of
# them is a crisis message.
QUESTIONS = [
    "is kratom legal in the US?",
    "what dose of kratom is safe for a beginner?",
    "can I take kratom with alcohol?",
    "how do I taper off kratom?",
    "does kratom show up on a drug test?",
    "why does kratom make me constipated?",
    "is it safe to mix kratom and kava?",
    "what are the withdrawal symptoms from kratom?",
]

# A larger timeline limit than the server's default (10), so a busy sync never drops a reply
# (a "limited" timeline is counted and reported).
PROBE_QUESTION = "is kratom legal in ireland"

SYNC_FILTER = {
    "presence": {"not_types": ["*"]},
    "account_data": {"not_types": ["*"]},
    "room": {
        "timeline": {"limit": 200},
        "ephemeral": {"not_types": ["*"]},
        "account_data": {"not_types": ["*"]},
    },
}


@dataclass
class Question:
    asker: int
    room_id: str
    sent_at: float  # monotonic, just before the send request
    send_ms: float  # how long the send request took
    replied_at: float | None = None
    duplicates: int = 0
    server_ts: int | None = None  # origin_server_ts of the question
    reply_server_ts: int | None = None  # ... and of the bot's first reply to it


@dataclass
class State:
    bot: str
    questions: dict[str, Question] = field(default_factory=dict)
    # Replies seen before the send request returned the question's event id, per asker.
    early: list[dict[str, tuple[float, int]]] = field(default_factory=list)
    # origin_server_ts of the users' own messages, seen before the send request returned.
    early_ts: dict[str, int] = field(default_factory=dict)
    bot_joined: set[str] = field(default_factory=set)  # rooms where the bot's join was seen
    loading: bool = False  # questions are being asked (count limited timelines only then)
    send_errors: int = 0
    sync_errors: int = 0
    limited_timelines: int = 0
    stop: bool = False


def log(msg: str) -> None:
    print(f"loadgen: {msg}", file=sys.stderr, flush=True)


async def register(synapse_dir: str, port: int, user: str, password: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        "bash", str(SYNAPSE_SH), "register", synapse_dir, str(port), user, password,
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"loadgen: registering {user} failed")
    return out.decode().strip()


async def sync_loop(client: AsyncClient, index: int, st: State) -> None:
    while not st.stop:
        resp = await client.sync(timeout=30000, sync_filter=SYNC_FILTER)
        now = time.monotonic()
        if isinstance(resp, SyncError):
            st.sync_errors += 1
            log(f"sync error for {client.user_id}: {resp.message}")
            await asyncio.sleep(1)
            continue
        for room_id, room in resp.rooms.join.items():
            if room.timeline.limited and st.loading:
                st.limited_timelines += 1
            for ev in room.state + room.timeline.events:
                src = ev.source
                if src.get("type") == "m.room.member" and src.get("state_key") == st.bot:
                    if src.get("content", {}).get("membership") == "join":
                        st.bot_joined.add(room_id)
                    else:
                        st.bot_joined.discard(room_id)
            for ev in room.timeline.events:
                if ev.sender == client.user_id:  # a question, seen by its asker
                    q = st.questions.get(ev.event_id)
                    if q is None:
                        st.early_ts[ev.event_id] = ev.server_timestamp
                    else:
                        q.server_ts = ev.server_timestamp
                if ev.sender != st.bot:
                    continue
                rel = ev.source.get("content", {}).get("m.relates_to") or {}
                target = (rel.get("m.in_reply_to") or {}).get("event_id")
                if not target:
                    continue
                q = st.questions.get(target)
                if q is None:
                    st.early[index].setdefault(target, (now, ev.server_timestamp))
                elif q.asker == index:
                    if q.replied_at is None:
                        q.replied_at, q.reply_server_ts = now, ev.server_timestamp
                    else:
                        q.duplicates += 1


def question(text: str, prefix: str, mention: str | None) -> dict:
    content = {"msgtype": "m.text", "body": prefix + text, "m.mentions": {}}
    if mention:  # a pill at the start, as Element sends it
        name = mention[1:].split(":")[0]
        content["body"] = f"{name}: {prefix}{text}"
        content["format"] = "org.matrix.custom.html"
        content["formatted_body"] = (
            f'<a href="https://matrix.to/#/{mention}">{name}</a>: {prefix}{text}'
        )
        content["m.mentions"] = {"user_ids": [mention]}
    return content


async def ask(client: AsyncClient, index: int, room_id: str, content: dict, st: State) -> None:
    sent_at = time.monotonic()
    resp = await client.room_send(room_id, "m.room.message", content)
    if not isinstance(resp, RoomSendResponse):
        st.send_errors += 1
        log(f"send failed in {room_id}: {resp}")
        return
    q = Question(index, room_id, sent_at, (time.monotonic() - sent_at) * 1000)
    q.replied_at, q.reply_server_ts = st.early[index].pop(resp.event_id, (None, None))
    q.server_ts = st.early_ts.pop(resp.event_id, None)
    st.questions[resp.event_id] = q


async def sample_rss(pid: int, t0: float, samples: list, st: State) -> None:
    path = f"/proc/{pid}/status"
    while not st.stop:
        try:
            with open(path) as f:
                kib = next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
            samples.append((round(time.monotonic() - t0, 1), kib))
        except (OSError, StopIteration):
            log(f"bot process {pid} is gone")
            return
        await asyncio.sleep(1)


def percentile(sorted_ms: list[float], p: float) -> float | None:
    """Nearest-rank percentile."""
    if not sorted_ms:
        return None
    rank = max(1, -(-len(sorted_ms) * p // 100))  # ceil(n * p / 100)
    return sorted_ms[int(rank) - 1]


async def run(args) -> dict:
    port = urlparse(args.homeserver).port or 80
    st = State(bot=args.bot)
    t0 = time.monotonic()
    rss: list[tuple[float, int]] = []
    tasks = []
    if args.bot_pid:
        tasks.append(asyncio.create_task(sample_rss(args.bot_pid, t0, rss, st)))

    # Accounts: created once per Synapse, logged in afresh each run.
    names = [f"{args.user_prefix}{i}" for i in range(args.users)]
    passwords = [f"{n}-load-password" for n in names]
    user_ids = await asyncio.gather(
        *(register(args.synapse_dir, port, n, p) for n, p in zip(names, passwords))
    )
    clients = [AsyncClient(args.homeserver, uid) for uid in user_ids]
    try:
        for c, p in zip(clients, passwords):
            r = await c.login(p, device_name="loadgen")
            if not hasattr(r, "access_token"):
                raise SystemExit(f"loadgen: login of {c.user} failed: {r}")
            await c.sync(timeout=0, sync_filter=SYNC_FILTER)  # skip history from earlier runs
        st.early = [{} for _ in clients]

        # Rooms: creator i % M invites the bot and the other users; they join at once.
        rooms = []
        for i in range(args.rooms):
            creator = clients[i % len(clients)]
            others = [uid for uid in user_ids if uid != creator.user_id]
            r = await creator.room_create(
                name=f"{args.label} load {i}", preset=RoomPreset.private_chat,
                invite=others + [args.bot], is_direct=False,
            )
            if isinstance(r, RoomCreateError):
                raise SystemExit(f"loadgen: creating a room failed: {r}")
            for c in clients:
                if c is not creator:
                    j = await c.join(r.room_id)
                    if not hasattr(j, "room_id"):
                        raise SystemExit(f"loadgen: {c.user_id} could not join: {j}")
            rooms.append(r.room_id)
        log(f"{len(rooms)} rooms with {len(clients)} users; waiting for {args.bot} to join")

        tasks += [asyncio.create_task(sync_loop(c, i, st)) for i, c in enumerate(clients)]
        deadline = time.monotonic() + args.join_timeout
        while True:
            joined = sum(1 for rid in rooms if rid in st.bot_joined)
            if joined == len(rooms):
                break
            if args.bot_pid and not os.path.exists(f"/proc/{args.bot_pid}"):
                raise SystemExit(f"loadgen: the bot process {args.bot_pid} has exited")
            if time.monotonic() > deadline:
                raise SystemExit(
                    f"loadgen: the bot joined {joined} of {len(rooms)} rooms "
                    f"within {args.join_timeout} s"
                )
            await asyncio.sleep(0.2)
        ready_at = time.monotonic()
        log(f"bot joined every room after {ready_at - t0:.1f} s; asking {args.rate}/s "
            f"for {args.duration} s")
        await asyncio.sleep(args.settle)

        # The load: question k at start + k / R, room k % N, asker (k // N) % M.
        total = round(args.rate * args.duration)
        start = time.monotonic()
        st.loading = True
        sends = []
        for k in range(total):
            delay = start + k / args.rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            room = rooms[k % len(rooms)]
            asker = (k // len(rooms)) % len(clients)
            content = question(f"{QUESTIONS[k % len(QUESTIONS)]} (#{k})", args.prefix,
                               args.bot if args.mention else None)
            sends.append(asyncio.create_task(ask(clients[asker], asker, room, content, st)))
        await asyncio.gather(*sends)
        load_s = time.monotonic() - start
        st.loading = False
        rss_end_of_load = rss[-1][1] if rss else None

        grace_end = time.monotonic() + args.grace
        while time.monotonic() < grace_end:
            if all(q.replied_at is not None for q in st.questions.values()):
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)  # duplicates arriving just after the last reply
    finally:
        st.stop = True
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for c in clients:
            await c.close()

    qs = st.questions.values()
    lat = sorted((q.replied_at - q.sent_at) * 1000 for q in qs if q.replied_at is not None)
    answered = len(lat)
    # The bot's share: question and reply timestamps from the same Synapse clock, so the
    # load generator's own delays (send request, sync delivery, Python) are left out.
    srv = sorted(q.reply_server_ts - q.server_ts for q in qs
                 if q.reply_server_ts is not None and q.server_ts is not None)
    send = sorted(q.send_ms for q in qs)
    return {
        "label": args.label,
        "bot": args.bot,
        "rooms": args.rooms,
        "users": args.users,
        "rate": args.rate,
        "duration_s": args.duration,
        "encrypted": False,
        "planned": total,
        "sent": len(st.questions),
        "send_errors": st.send_errors,
        "answered": answered,
        "missing": len(st.questions) - answered,
        "duplicates": sum(q.duplicates for q in st.questions.values()),
        "load_seconds": round(load_s, 2),
        "p50_ms": percentile(lat, 50),
        "p95_ms": percentile(lat, 95),
        "p99_ms": percentile(lat, 99),
        "max_ms": lat[-1] if lat else None,
        "mean_ms": sum(lat) / answered if answered else None,
        "server_p50_ms": percentile(srv, 50),
        "server_p95_ms": percentile(srv, 95),
        "server_p99_ms": percentile(srv, 99),
        "send_p50_ms": percentile(send, 50),
        "sync_errors": st.sync_errors,
        "limited_timelines": st.limited_timelines,
        "bot_join_s": round(ready_at - t0, 2),
        "room_ids": rooms,
        "rss_max_kib": max((k for _, k in rss), default=None),
        "rss_end_of_load_kib": rss_end_of_load,
        "rss_samples": rss,  # (seconds since loadgen start, KiB)
        "missing_questions": [
            {"event_id": eid, "room_id": q.room_id, "asker": q.asker}
            for eid, q in st.questions.items() if q.replied_at is None
        ],
        "latencies_ms": [round(x, 1) for x in lat],
    }


async def probe(args) -> dict:
    """One question right after the bot's start; see the module docstring (probe mode)."""
    port = urlparse(args.homeserver).port or 80
    room_id = args.probe
    name = f"{args.user_prefix}0"
    user_id = await register(args.synapse_dir, port, name, f"{name}-load-password")
    # Only the probed room, so the asker's syncs stay small however many rooms it is in.
    sync_filter = {**SYNC_FILTER, "room": {**SYNC_FILTER["room"], "rooms": [room_id]}}
    client = AsyncClient(args.homeserver, user_id)
    try:
        r = await client.login(f"{name}-load-password", device_name="loadgen-probe")
        if not hasattr(r, "access_token"):
            raise SystemExit(f"loadgen: login of {user_id} failed: {r}")
        r = await client.sync(timeout=0, sync_filter=sync_filter)  # skip the room's history
        if isinstance(r, SyncError):
            raise SystemExit(f"loadgen: first sync of {user_id} failed: {r.message}")
        if room_id not in r.rooms.join:
            raise SystemExit(f"loadgen: {user_id} is not in {room_id}")
        Path(args.ready_file).touch()

        # The bot is started as soon as the ready file exists; its start time comes in the
        # start file (written in full, then renamed, so it is never read half-written).
        deadline = time.monotonic() + args.probe_timeout
        start_file = Path(args.start_file)
        while not start_file.exists():
            if time.monotonic() > deadline:
                raise SystemExit(f"loadgen: no {start_file} within {args.probe_timeout} s")
            await asyncio.sleep(0.005)
        started = float(start_file.read_text().strip())
        deadline = time.monotonic() + args.probe_timeout

        content = question(PROBE_QUESTION, args.prefix, args.bot if args.mention else None)
        sent_at = time.time()
        resp = await client.room_send(room_id, "m.room.message", content)
        send_ms = (time.time() - sent_at) * 1000
        if not isinstance(resp, RoomSendResponse):
            raise SystemExit(f"loadgen: sending the probe question failed: {resp}")
        question_ts = None
        # The syncs continue from the token taken before the question, so the reply cannot be
        # missed however early it comes.
        while True:
            if time.monotonic() > deadline:
                raise SystemExit(f"loadgen: no reply from {args.bot} within "
                                 f"{args.probe_timeout} s of the bot's start")
            r = await client.sync(timeout=5000, sync_filter=sync_filter)
            now = time.time()
            if isinstance(r, SyncError):
                log(f"sync error for {user_id}: {r.message}")
                await asyncio.sleep(0.5)
                continue
            room = r.rooms.join.get(room_id)
            for ev in room.timeline.events if room else []:
                if ev.event_id == resp.event_id:
                    question_ts = ev.server_timestamp
                rel = ev.source.get("content", {}).get("m.relates_to") or {}
                target = (rel.get("m.in_reply_to") or {}).get("event_id")
                if ev.sender == args.bot and target == resp.event_id:
                    return {
                        "label": args.label,
                        "bot": args.bot,
                        "room_id": room_id,
                        "started_unix": started,
                        "question_sent_s": round(sent_at - started, 3),
                        "send_ms": round(send_ms, 1),
                        "answer_s": round(now - started, 3),
                        "server_answer_s": round(ev.server_timestamp / 1000 - started, 3),
                        "server_question_to_answer_ms": (
                            ev.server_timestamp - question_ts if question_ts else None
                        ),
                    }
    finally:
        await client.close()


def fmt_ms(v) -> str:
    return "-" if v is None else f"{v:.0f}"


def mb(kib) -> str:
    return "-" if kib is None else f"{kib / 1024:.1f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--homeserver", required=True, help="client API URL, e.g. http://127.0.0.1:8008")
    ap.add_argument("--synapse-dir", required=True, help="the DIR given to scripts/synapse.sh start")
    ap.add_argument("--bot", required=True, help="the bot's user id")
    ap.add_argument("--rooms", type=int, default=4, help="group rooms (default 4)")
    ap.add_argument("--users", type=int, default=2, help="users, each in every room (min 2)")
    ap.add_argument("--rate", type=float, default=2.0, help="questions per second overall")
    ap.add_argument("--duration", type=float, default=20.0, help="seconds of load")
    ap.add_argument("--prefix", default="", help="put before every question, e.g. '!kratom '")
    ap.add_argument("--mention", action="store_true",
                    help="address the bot with a mention pill (m.mentions) instead of a prefix")
    ap.add_argument("--grace", type=float, default=15.0,
                    help="seconds to wait for replies after the last question (default 15)")
    ap.add_argument("--settle", type=float, default=1.0,
                    help="seconds between the bot's last join and the first question")
    ap.add_argument("--join-timeout", type=float, default=180.0,
                    help="seconds to wait for the bot to join every room")
    ap.add_argument("--bot-pid", type=int, help="sample this process's VmRSS every second")
    ap.add_argument("--label", default="bot", help="name in the summary line")
    ap.add_argument("--user-prefix", default="load-user-", help="localpart prefix of the users")
    ap.add_argument("--json", help="write the full result (latencies, RSS samples) here")
    ap.add_argument("--probe", metavar="ROOM_ID",
                    help="probe mode: one question in ROOM_ID right after the bot's start "
                         "(see the module docstring); the load options are ignored")
    ap.add_argument("--ready-file", help="probe mode: created once the asker is logged in")
    ap.add_argument("--start-file",
                    help="probe mode: appears holding the bot's start time (Unix seconds)")
    ap.add_argument("--probe-timeout", type=float, default=120.0,
                    help="probe mode: seconds to wait for the start file, then for the reply")
    args = ap.parse_args()
    if args.probe:
        if not (args.ready_file and args.start_file):
            ap.error("--probe needs --ready-file and --start-file")
        res = asyncio.run(probe(args))
        print(
            f"{res['label']}: first answer {res['answer_s']:.2f} s after the bot's start "
            f"(question sent at +{res['question_sent_s']:.2f} s, reply's origin_server_ts "
            f"at +{res['server_answer_s']:.2f} s)",
            flush=True,
        )
        if args.json:
            Path(args.json).write_text(json.dumps(res, indent=1) + "\n")
        return
    if args.users < 2:
        ap.error("--users must be at least 2 (with the bot that makes 3 members: not a DM)")
    if args.rooms < 1 or args.rate <= 0 or args.duration <= 0:
        ap.error("--rooms, --rate and --duration must be positive")

    res = asyncio.run(run(args))
    rss = res["rss_max_kib"]
    print(
        f"{res['label']}: sent={res['sent']}/{res['planned']} answered={res['answered']} "
        f"missing={res['missing']} dup={res['duplicates']} p50={fmt_ms(res['p50_ms'])}ms "
        f"p95={fmt_ms(res['p95_ms'])}ms p99={fmt_ms(res['p99_ms'])}ms "
        f"max={fmt_ms(res['max_ms'])}ms server_p50={fmt_ms(res['server_p50_ms'])}ms "
        f"rss_max={mb(rss)}MB rss_end={mb(res['rss_end_of_load_kib'])}MB "
        f"({res['rooms']} rooms x {res['users']} users, {res['rate']} q/s, "
        f"{res['duration_s']} s, unencrypted)",
        flush=True,
    )
    if res["send_errors"] or res["sync_errors"] or res["limited_timelines"]:
        log(f"send errors {res['send_errors']}, sync errors {res['sync_errors']}, "
            f"limited timelines {res['limited_timelines']}")
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1) + "\n")


if __name__ == "__main__":
    main()

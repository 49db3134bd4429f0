#!/usr/bin/env python3
"""Baseline for scripts/bench-load.sh: the "30-line matrix-nio echo bot".

  KRATOM_BOT_PASSWORD=... nio_echo_bot.py HOMESERVER_URL USER_ID

Logs in, joins every room it is invited to, and answers each m.text in its rooms (not its own)
with an m.notice rich reply "echo: <body>". Unencrypted rooms only (nio without e2e extras).
"""
import asyncio
import os
import sys

from nio import AsyncClient, InviteMemberEvent, MatrixRoom, RoomMessageText


async def main(homeserver: str, user_id: str) -> None:
    client = AsyncClient(homeserver, user_id)
    resp = await client.login(os.environ["KRATOM_BOT_PASSWORD"], device_name="nio-echo")
    if not hasattr(resp, "access_token"):
        sys.exit(f"nio_echo_bot: login failed: {resp}")

    async def on_invite(room: MatrixRoom, event: InviteMemberEvent) -> None:
        if event.state_key == client.user_id and event.membership == "invite":
            await client.join(room.room_id)

    async def on_text(room: MatrixRoom, event: RoomMessageText) -> None:
        if event.sender == client.user_id:
            return
        await client.room_send(room.room_id, "m.room.message", {
            "msgtype": "m.notice",
            "body": "echo: " + event.body,
            "m.relates_to": {"m.in_reply_to": {"event_id": event.event_id}},
            "m.mentions": {"user_ids": [event.sender]},
        })

    await client.sync(timeout=0, full_state=True)  # no replies to the backlog
    for room_id in list(client.invited_rooms):
        await client.join(room_id)
    client.add_event_callback(on_invite, InviteMemberEvent)
    client.add_event_callback(on_text, RoomMessageText)  # m.text only: notices never answered
    await client.sync_forever(timeout=30000)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))

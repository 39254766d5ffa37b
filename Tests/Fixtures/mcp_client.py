#!/usr/bin/env python3
"""Drives `sre-diagnose mcp` with the official Python MCP SDK (PyPI `mcp`), as an IDE would.

usage: mcp_client.py SRE_DIAGNOSE_BINARY DAEMON_URL APPROVER_TOKEN
Prints one JSON object with what the server answered. The approver token is given to the MCP
server's environment on purpose: the server must ignore it. A human then approves over HTTP.
"""
import asyncio
import json
import os
import sys
import time
import urllib.request

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client


def field(obj, snake):
    """mcp 2.x names fields in snake_case, 1.x in camelCase: accept either."""
    if obj is None:
        return None
    if hasattr(obj, snake):
        return getattr(obj, snake)
    parts = snake.split("_")
    return getattr(obj, parts[0] + "".join(p.title() for p in parts[1:]), None)


def approve(url, session_id, token):
    request = urllib.request.Request(f"{url}/approve/{session_id}", data=json.dumps({"approved": True, "comment": "human via HTTP"}).encode(),
                                     method="POST", headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


async def main():
    binary, url, token = sys.argv[1:4]
    # Optional: a command that runs the server as another account (the developer, as an IDE
    # would), e.g. setpriv --reuid=… --: the human who approves is then a different person.
    launcher = sys.argv[4:]
    command, args = (launcher[0], launcher[1:] + [binary, "mcp"]) if launcher else (binary, ["mcp"])
    params = StdioServerParameters(command=command, args=args,
                                   env={"SRE_DIAGNOSE_URL": url, "SRE_DIAGNOSE_TOKEN": token, "PATH": os.environ.get("PATH", "/usr/bin:/bin")})
    out = {}
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            init = await session.initialize()
            out["server"] = field(init, "server_info").name
            out["capabilities"] = init.capabilities.model_dump(exclude_none=True)
            tools = (await session.list_tools()).tools
            out["tools"] = sorted(tool.name for tool in tools)
            out["read_only"] = {tool.name: bool(field(field(tool, "annotations"), "read_only_hint")) for tool in tools}

            environments = await session.call_tool("list_environments", {})
            out["environments"] = [e["name"] for e in field(environments, "structured_content")["environments"]]

            missing = await session.call_tool("diagnose", {})
            out["diagnose_without_problem"] = {"is_error": field(missing, "is_error"), "text": missing.content[0].text}

            started = await session.call_tool("diagnose", {"problem": "Database connection failures in production", "environment": "two",
                                                           "context": {"service": "api-gateway"}})
            out["diagnose_text"] = started.content[0].text
            out["diagnose"] = field(started, "structured_content")
            session_id = field(started, "structured_content")["session_id"]

            early = await session.call_tool("get_report", {"session_id": session_id})
            out["report_before_approval"] = early.content[0].text

            # An agent trying to approve anyway: there is no such tool.
            try:
                sneaky = await session.call_tool("approve", {"session_id": session_id, "approved": True})
                out["approve_tool"] = {"is_error": field(sneaky, "is_error"), "text": sneaky.content[0].text if sneaky.content else ""}
            except Exception as error:  # some SDK versions raise for unknown tools
                out["approve_tool"] = {"is_error": True, "text": str(error)}

            status = await session.call_tool("get_status", {"session_id": session_id})
            out["status_before"] = field(status, "structured_content")["status"]
            out["status_text_before"] = status.content[0].text

            # The human approves, outside MCP.
            out["human_decision"] = approve(url, session_id, token)["outcome"]

            deadline = time.time() + 60
            while time.time() < deadline:
                status = await session.call_tool("get_status", {"session_id": session_id})
                if field(status, "structured_content")["status"] in ("completed", "failed", "expired"):
                    break
                await asyncio.sleep(0.2)
            out["status_after"] = field(status, "structured_content")["status"]

            report = await session.call_tool("get_report", {"session_id": session_id})
            out["report"] = report.content[0].text
            listed = await session.call_tool("list_sessions", {"limit": 5})
            out["sessions"] = [s["session_id"] for s in field(listed, "structured_content")["sessions"]]
            bad = await session.call_tool("get_status", {"session_id": "../etc"})
            out["bad_id"] = {"is_error": field(bad, "is_error"), "text": bad.content[0].text}
    print(json.dumps(out))


asyncio.run(main())

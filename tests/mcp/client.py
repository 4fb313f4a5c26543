"""A real MCP client (the official Python SDK) driving `bringup mcp`.

Usage: client.py BRINGUP SCENARIO -c CONFIG

Spawns `BRINGUP -c CONFIG mcp` over stdio, runs the scenario's tool calls
in order and prints one JSON document: every call's name, arguments,
is_error, structured content and text, plus the tools listed. The Rust
test (tests/mcp.rs) asserts on it, so this script only drives.

Scenarios:
  stack    a stack is running: list tools, status, logs, why, restart,
           wait_ready, a tool for a service that does not exist, ports_who
  nostack  no stack runs: status says so; up starts one; status; down
"""

import asyncio
import json
import os
import sys

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client


async def call(session, calls, name, arguments):
    result = await session.call_tool(name, arguments, read_timeout_seconds=120)
    texts = [c.text for c in result.content if getattr(c, "type", None) == "text"]
    calls.append(
        {
            "name": name,
            "arguments": arguments,
            "is_error": bool(result.is_error),
            "structured": result.structured_content,
            "text": "\n".join(texts),
        }
    )
    return result.structured_content


async def main():
    bringup, scenario = sys.argv[1], sys.argv[2]
    config = sys.argv[sys.argv.index("-c") + 1]
    server = StdioServerParameters(
        command=bringup,
        args=["-c", config, "mcp"],
        # The whole environment: the test's marker and state directory
        # reach the server and the stacks it starts.
        env=dict(os.environ),
    )
    out = {"tools": [], "calls": []}
    async with stdio_client(server) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            listed = await session.list_tools()
            for tool in listed.tools:
                annotations = tool.annotations
                out["tools"].append(
                    {
                        "name": tool.name,
                        "description": tool.description,
                        "has_input_schema": bool(tool.input_schema),
                        "has_output_schema": bool(tool.output_schema),
                        "read_only": annotations.read_only_hint if annotations else None,
                        "destructive": annotations.destructive_hint if annotations else None,
                    }
                )
            calls = out["calls"]
            if scenario == "stack":
                await call(session, calls, "status", {})
                await call(session, calls, "status", {"services": ["api"], "states": ["ready"]})
                await call(session, calls, "logs", {"services": ["db"], "tail": 3})
                await call(session, calls, "logs", {"grep": "^no such line$"})
                await call(session, calls, "logs", {"tail": 1000, "max_bytes": 200})
                await call(session, calls, "why", {"service": "api"})
                await call(session, calls, "restart", {"services": ["api"], "timeout": "60s"})
                await call(session, calls, "status", {"services": ["api"]})
                await call(session, calls, "stop", {"services": ["api"]})
                await call(session, calls, "why", {"service": "api"})
                await call(session, calls, "start", {"services": ["api"]})
                await call(session, calls, "wait_ready", {"timeout": "60s"})
                await call(session, calls, "why", {"service": "nosuch"})
                await call(session, calls, "restart", {"services": ["nosuch"]})
                await call(session, calls, "logs", {"grep": "("})
                port = next(
                    s["port"]
                    for s in calls[0]["structured"]["services"]
                    if s["name"] == "db"
                )
                await call(session, calls, "ports_who", {"port": port})
                # The server is still there after the errors.
                await call(session, calls, "status", {"states": ["ready"]})
            elif scenario == "nostack":
                await call(session, calls, "status", {})
                # Service names that look like options stay names.
                evil = os.path.join(os.path.dirname(os.path.abspath(config)), "evil.toml")
                await call(session, calls, "up", {"services": ["-c", evil], "timeout": "20s"})
                await call(session, calls, "up", {"timeout": "60s"})
                await call(session, calls, "status", {})
                await call(session, calls, "down", {})
                await call(session, calls, "status", {})
            else:
                raise SystemExit(f"unknown scenario {scenario}")
    print(json.dumps(out))


if __name__ == "__main__":
    asyncio.run(main())

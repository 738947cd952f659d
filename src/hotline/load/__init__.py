"""Load mode: simulated callers and agents driving a running hotline over its HTTP API.

`plan` says what to simulate, `driver` runs it (asyncio + aiohttp, loopback only) and `report`
summarises what was measured: contacts per second, arrival→offer latency (server and
client-observed), HTTP errors and the lost-contact check. This package talks to hotline only
over HTTP; from the rest of hotline it uses the simulator's pure distributions and nothing
else, so it measures what a real client sees.
"""

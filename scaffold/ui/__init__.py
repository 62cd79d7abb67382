"""`scaffold ui`: the options, the files they generate and updates, in a local page.

api.py     what each endpoint does, through the functions `new` and `update` call
server.py  the HTTP server: loopback only, every request checked (token, Host,
           Origin) before it is routed
static/    the page: plain HTML, CSS and JavaScript; no build step, no network
"""

"""The framework's ceiling: a bare Flask endpoint answering empty TwiML, nothing else.

Served by `gunicorn -c gunicorn.conf.py bench.bare:app`, the same settings as `web`.
"""

from flask import Flask, Response

from helpline.webhooks import EMPTY_TWIML

app = Flask(__name__)


@app.post("/twilio/messages")
def inbound_message() -> Response:
    return Response(EMPTY_TWIML, 200, mimetype="text/xml")


@app.get("/api/v1/health")
def health() -> Response:
    return Response('{"status": "ok"}', 200, mimetype="application/json")

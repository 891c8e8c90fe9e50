"""The checks every chat message passes before Rasa sees it, without Rasa: text hygiene, the policy
for typed `/intent{...}` payloads, one rate limiter (also used by the web app) and the gate that
combines them. bot/rasa_ext/channels.py wires the gate into Rasa's REST and socket.io channels.
"""

"""The official `openai` Python client against `cospec serve` (run by tests/serve.rs):
python openai_client.py BASE_URL API_KEY."""
import sys

import openai

base_url, key = sys.argv[1], sys.argv[2]
client = openai.OpenAI(base_url=base_url, api_key=key)
question = [{"role": "user", "content": "What is the capital of France?"}]

models = client.models.list()
model = models.data[0].id

chat = client.chat.completions.create(model=model, messages=question, max_tokens=24, temperature=0)
answer = chat.choices[0].message.content
assert "Paris" in answer, answer
assert chat.usage.total_tokens == chat.usage.prompt_tokens + chat.usage.completion_tokens

stream = client.chat.completions.create(
    model=model, messages=question, max_tokens=24, temperature=0, stream=True, stream_options={"include_usage": True}
)
pieces, usage, reason = [], None, None
for chunk in stream:
    if chunk.usage is not None:
        usage = chunk.usage
    for c in chunk.choices:
        if c.delta.content:
            pieces.append(c.delta.content)
        reason = c.finish_reason or reason
assert "".join(pieces) == answer, ("".join(pieces), answer)
assert reason == chat.choices[0].finish_reason, reason
assert usage is not None and usage.completion_tokens == chat.usage.completion_tokens, usage

# Speculative settings through the extension object; greedy SPD gives target-only's text.
spd = client.completions.create(
    model=model, prompt="The capital of France is", max_tokens=16, temperature=0, extra_body={"cospec": {"mode": "spd", "k": 3}}
)
plain = client.completions.create(
    model=model, prompt="The capital of France is", max_tokens=16, temperature=0, extra_body={"cospec": {"mode": "target-only"}}
)
assert spd.choices[0].text == plain.choices[0].text, (spd.choices[0].text, plain.choices[0].text)

try:
    openai.OpenAI(base_url=base_url, api_key="wrong").chat.completions.create(model=model, messages=question)
    raise AssertionError("a wrong key was accepted")
except openai.AuthenticationError:
    pass
try:
    client.chat.completions.create(model="no-such-model", messages=question)
    raise AssertionError("an unknown model was accepted")
except openai.NotFoundError:
    pass
try:
    client.chat.completions.create(model=model, messages=question, temperature=7)
    raise AssertionError("temperature 7 was accepted")
except openai.BadRequestError:
    pass
print("all openai client checks passed")

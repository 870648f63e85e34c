# A stand-in for training: reads the staged config, "trains", writes a model file.
import json
import os
import sys
import time

config = json.load(open("config.json"))
epochs = int(os.environ.get("EPOCHS", "1"))
loss = 1.0
for epoch in range(1, epochs + 1):
    loss = loss / (1 + config["x"] / 100)
    print(f"epoch {epoch}: loss={loss:.4f}", flush=True)
    time.sleep(0.1)
print("warning: this model is a toy", file=sys.stderr)
with open("model.json", "w") as f:
    json.dump({"loss": loss, "epochs": epochs}, f)
print("--- summary ---")
print(f"loss: {loss:.4f}")
print("---")

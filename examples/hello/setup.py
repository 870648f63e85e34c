# Runs in the copy-sourcecode phase: makes the run's config.json from the template.
import json
import os

run_dir = os.environ["run_dir"]
print("Creating config.json from config.json.in")
with open("config.json.in") as f:
    config = json.load(f)
config["x"] = config["x"] + 1
print(f"Using x = {config['x']} for config")
with open(os.path.join(run_dir, "config.json"), "w") as f:
    json.dump(config, f)

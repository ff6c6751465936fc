# A custom-logging scoring script written the way Microsoft's "Collect production data from
# models for real-time inferencing" page writes one (learn.microsoft.com/azure/machine-learning/
# how-to-collect-production-data): Collector objects named after the deployment's collections,
# created in init(); the inputs collected as a pandas DataFrame, the outputs collected with the
# context the first collect() returned so the two can be joined. Our own script, not a copy.
import json

import pandas as pd
from azureml.ai.monitoring import Collector


def init():
    global inputs_collector, outputs_collector
    inputs_collector = Collector(name="model_inputs")
    outputs_collector = Collector(name="model_outputs")


def run(data):
    # The request body: {"data": {"col1": [...], "col2": [...]}}, a column-oriented table.
    frame = pd.DataFrame(json.loads(data)["data"])
    context = inputs_collector.collect(frame)
    scored = pd.DataFrame({"prediction": frame.sum(axis=1)})
    outputs_collector.collect(scored, context)
    return scored.to_dict()

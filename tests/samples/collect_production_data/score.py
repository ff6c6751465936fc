# Microsoft's custom-logging scoring script, as "Collect production data from models for
# real-time inferencing" (learn.microsoft.com/azure/machine-learning/how-to-collect-production-data,
# MicrosoftDocs/azure-ai-docs articles/machine-learning/how-to-collect-production-data.md at
# 0fe433b, "an example of a full scoring script (score.py) that uses the custom logging Python
# SDK") prints it; the same script is azureml-examples' sdk/python/endpoints/online/
# data_collector/score.py. Unchanged except predict(), which the page leaves as a placeholder
# ("# process input and return with outputs / ... / return output_df"): here it sums each row.
import pandas as pd
import json
from azureml.ai.monitoring import Collector

def init():
  global inputs_collector, outputs_collector, inputs_outputs_collector

  # instantiate collectors with appropriate names, make sure align with the deployment spec.
  inputs_collector = Collector(name='model_inputs')                    
  outputs_collector = Collector(name='model_outputs')

def run(data): 
  # json data: { "data" : {  "col1": [1,2,3], "col2": [2,3,4] } }
  pdf_data = preprocess(json.loads(data))
  
  # tabular data: {  "col1": [1,2,3], "col2": [2,3,4] }
  input_df = pd.DataFrame(pdf_data)

  # collect inputs data, store correlation_context
  context = inputs_collector.collect(input_df)

  # Perform scoring with a pandas Dataframe. Return value is also a pandas Dataframe.
  output_df = predict(input_df) 

  # collect outputs data, pass in correlation_context so inputs and outputs data can be correlated later
  outputs_collector.collect(output_df, context)
  
  return output_df.to_dict()
  
def preprocess(json_data):
  # preprocess the payload to ensure it can be converted to pandas DataFrame
  return json_data["data"]

def predict(input_df):
  # process input and return with outputs
  output_df = pd.DataFrame({"prediction": input_df.sum(axis=1)})
  
  return output_df

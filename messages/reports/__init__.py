"""Reports: the model the chart and the sheet render."""

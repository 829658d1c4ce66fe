"""DigitLens' one command: `python -m digitlens {app,predict,serve,train,audit,export}`."""

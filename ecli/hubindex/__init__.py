"""The JSON index (`api/v1`): the contract between the hub and ecli.

`model` is the only code that reads or writes these documents; the generator
writes them through it, ecli reads them through it.
"""

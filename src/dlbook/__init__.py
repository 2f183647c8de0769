"""dlbook: the code behind every page of the executable deep-learning handbook.

Kept light on purpose: importing ``dlbook`` does not import TensorFlow. Import the
topic modules (``dlbook.base.seeding``, ``dlbook.data``, ``dlbook.last_layer``...) instead.
"""

__version__ = "0.1.0"

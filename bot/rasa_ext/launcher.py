"""`rasa` as Loket starts it (`python -m bot.rasa_ext.launcher run ...`): Rasa's own command line, with
skops imported first.

skops (the format of the tf-idf models, bot/nlu/tfidf_model.py) looks up the module of each numpy
ufunc on import by walking every loaded module. After Rasa's imports (TensorFlow, jax: about 5,700
modules) that took 16 s, before them 4 s (measured on the 2-core machine), and Rasa cannot answer
before the model is loaded. A Rasa server that the supervisor restarts is back that much sooner.
"""

from __future__ import annotations


def main() -> None:
    import skops.io  # noqa: F401 - imported for its side effect, see above
    from rasa.__main__ import main as rasa_main

    rasa_main()


if __name__ == "__main__":
    main()

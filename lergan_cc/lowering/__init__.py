"""Lowering: the placed IR -> the memory controller's FSM program (``lergan_cc.fsm`` is the program format).

``kinds`` turns a matrix op's plan into crossbar matrices and loop nests, ``lower`` builds every op's
instructions and the declarations, ``states`` arranges them into the controller's states, ``render``
spells the program through the jinja2 templates.
"""

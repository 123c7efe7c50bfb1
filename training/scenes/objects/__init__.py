"""Builders for the labelled objects: people, cars, trucks, stalls, goods, soil and nets.

Each builder takes a random generator and a placement on the ground and returns one
:class:`~training.scenes.geometry.Solid` whose ``name`` is its class. Sizes are in metres and
follow real objects (a person 1.55-1.9 m, a car 4.2-4.9 m long, a muck truck 7.5-9 m).
The colours they are drawn in are in :mod:`training.scenes.palettes`.
"""

from __future__ import annotations

from training.scenes.objects.ground import dust_net, soil_patch
from training.scenes.objects.people import billboard, person
from training.scenes.objects.vehicles import car, truck
from training.scenes.objects.vending import goods, stall

__all__ = ["billboard", "car", "dust_net", "goods", "person", "soil_patch", "stall", "truck"]

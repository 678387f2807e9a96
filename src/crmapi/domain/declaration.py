"""What every declared Close object shares, activity type or resource.

``ActivitySpec`` (``activities/spec.py``) and ``ResourceSpec`` (``resources/spec.py``) both
extend ``Declaration``: where the object is served, the event object type its changes are
logged under, and the Close documentation page it mirrors.
"""

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class Declaration:
    path: str  # where it is served (activity types: under /activity/)
    event_type: str = ""  # the event log's object type ("lead"; activities: activity.<this>)
    docs: str = ""  # the Close documentation page this declaration mirrors

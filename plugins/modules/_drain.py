#!/usr/bin/python
# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r"""
module: _drain
short_description: "[INTERNAL] The controller steps of a drain; must only be used from roles in this collection"
version_added: 0.2.0
description:
  - "[INTERNAL] Used by the C(s390x.vfio_ap.maintenance) role; it must only be used from roles in this collection. Its
    options and results may change in any release, without a deprecation."
  - Each step is one controller task of the drain - O(step=order_waves) orders the guests of the evacuation plan into
    waves (and renders the report written when the drain starts), O(step=just_in_time) decides what each guest of a
    wave does with the facts gathered just now (migrate, prepare first, already moved, skip, refuse) and the migrate
    commands, O(step=wave_outcomes) reads what the wave's host tasks registered into one outcome per guest (refusals in
    reason codes, moves verified on both hosts, what to undo and clean up) and adds them to the run so far,
    O(step=drain_report) builds the report at the end.
  - Reads the AP facts and the variables the role's host tasks registered out of C(hostvars).
  - Runs on the controller (an action plugin); changes nothing.
author:
  - s390x.vfio_ap developers (@s390x-ansible)
options:
  step:
    description: The step to run.
    type: str
    required: true
    choices: [order_waves, just_in_time, wave_outcomes, drain_report]
  options:
    description:
      - "The drain's options C({rules, prepare, per_source, per_destination, enable, keep_prepared, on_failure, command:
        {command, options, timeout, uri}}) (the role's inputs); a wrong one fails the step with a message naming the
        role variable."
    type: dict
  evacuation:
    description: The evacuation plan (O(step=order_waves), O(step=drain_report)).
    type: dict
  plan:
    description: The migration plan the evacuation was chosen from.
    type: dict
  hosts:
    description: The hosts going into maintenance (whose facts the report reads).
    type: list
    elements: str
  fleet:
    description: The hosts whose facts the just-in-time decision reads (O(step=just_in_time)).
    type: list
    elements: str
  wave:
    description: One wave of O(step=order_waves) (O(step=just_in_time)).
    type: dict
  steps:
    description: The wave's O(step=just_in_time) result (O(step=wave_outcomes)).
    type: dict
  previous:
    description: The last O(step=wave_outcomes) result, the run so far (O(step=wave_outcomes), O(step=drain_report)).
    type: dict
  addresses:
    description: "C({host: migration address}) for C(--migrateuri)."
    type: dict
  held:
    description: "C({uuid: result}) of the guests the drain does not run (O(step=drain_report))."
    type: dict
  mode:
    description: The run's mode (O(step=drain_report)).
    type: str
    choices: [plan, check, execute]
  report_dir:
    description: The report directory (an earlier run's C(evacuation.json) is read there by O(step=order_waves)).
    type: str
attributes:
  check_mode:
    description: Runs in check mode as in normal mode (it decides; the role's host tasks act).
    support: full
  diff_mode:
    description: Returns no diff.
    support: none
  platform:
    description: Any controller.
    support: full
    platforms: all
"""

EXAMPLES = r"""
- name: Check every guest of the wave again and decide (internal to s390x.vfio_ap.maintenance)
  s390x.vfio_ap._drain:
    step: just_in_time
    wave: "{{ __vfio_ap_maintenance_wave }}"
    fleet: "{{ __vfio_ap_maintenance_fleet.gathered }}"
    options: "{{ __vfio_ap_maintenance_options }}"
  register: __vfio_ap_maintenance_steps
  run_once: true
"""

RETURN = r"""
waves:
  description: The waves (O(step=order_waves)).
  returned: O(step=order_waves)
  type: list
  elements: dict
guests:
  description: The decision per guest (O(step=just_in_time)).
  returned: O(step=just_in_time)
  type: list
  elements: dict
outcomes:
  description: The outcome of every guest of the run so far, by mdev UUID.
  returned: O(step=wave_outcomes)
  type: dict
stopped:
  description: The drain stops here (a guest failed and O(options)' C(on_failure) is C(stop)).
  returned: O(step=wave_outcomes)
  type: bool
report:
  description: "The drain document (C(evacuation.json)) and its files, C({document, files, summary})."
  returned: O(step=drain_report)
  type: dict
messages:
  description: "What the role shows at the end, C({lines, failed, not_empty})."
  returned: O(step=drain_report)
  type: dict
files:
  description: The report files by name (the one written at the start for O(step=order_waves)).
  returned: O(step=order_waves), O(step=drain_report)
  type: dict
"""

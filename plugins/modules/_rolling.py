#!/usr/bin/python
# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r"""
module: _rolling
short_description: "[INTERNAL] The controller steps of a rolling maintenance run; must only be used from roles in this collection"
version_added: 0.2.0
description:
  - "[INTERNAL] Used by the C(rolling) entry point of the C(s390x.vfio_ap.maintenance) role; it must only be used from roles in
    this collection. Its options and results may change in any release, without a deprecation."
  - Each step is one controller task of the run - O(step=start) checks the inputs and plans the run, or takes up the run
    the state file holds; O(step=batch_plan) plans a batch's drain with the facts of now; O(step=migration) lists the guests
    whose migration a drain enables; O(step=record) and O(step=stop) return the run's state with a step done, or stopped;
    O(step=drain_outcome) reads a drain's report; O(step=snapshot) records the AP configuration of the batch's hosts before
    their reboot and what would not come back; O(step=verify) compares them after the reboot and says what to repair;
    O(step=restarts), O(step=returns) and O(step=restore) decide which guests start again, which come back and where
    migration is disabled again; O(step=collect) and O(step=failures) read what a host task registered or a rescue
    noted on each host; O(step=save) writes the state and the reports.
  - Reads the AP facts and the variables the role's host tasks registered out of C(hostvars).
  - Runs on the controller (an action plugin); changes nothing on the hosts. It writes the run's files on the controller -
    the state file after every step, the reports, the approved plans of the drains - each replaced atomically, none in
    check mode (but the plan of O(step=start)).
author:
  - s390x.vfio_ap developers (@s390x-ansible)
options:
  step:
    description: The step to run.
    type: str
    required: true
    choices: [start, batch_plan, migration, record, stop, save, drain_outcome, snapshot, verify, restarts, returns, restore, collect,
              failures]
  inputs:
    description: The role's inputs for the run (O(step=start)).
    type: dict
  state:
    description: The run's state (every step but O(step=start) and O(step=drain_outcome)).
    type: dict
  state_text:
    description: The state file's text, empty when there is none (O(step=start)).
    type: str
  state_file:
    description: The state file's path, for messages (O(step=start)).
    type: str
  fleet:
    description: The hosts of the play (those with AP facts are read).
    type: list
    elements: str
  batch:
    description: The index of the batch the step is about.
    type: int
  phase:
    description: The step of the batch that is done (O(step=record)) or failed (O(step=stop)).
    type: str
  data:
    description: What the batch records with the phase (O(step=record)).
    type: dict
  now:
    description: The time, recorded with the phase.
    type: str
  message:
    description: Why the run stops (O(step=stop)).
    type: str
  hosts:
    description: The hosts the step is about (O(step=migration), O(step=drain_outcome), O(step=snapshot)).
    type: list
    elements: str
  first:
    description:
      - O(step=verify) - the first result of the batch, before the repairs (the second says what was repaired).
      - O(step=drain_outcome) - the stamp of the drain's report taken before the drain (C(report_before) of
        O(step=batch_plan) or O(step=returns)); a report that did not change was not written by this drain.
    type: raw
  title:
    description: The heading of the run's reports.
    type: str
  report_dir:
    description: The run's report directory on the controller (O(step=drain_outcome) - the drain's).
    type: str
  reports:
    description: Write the reports too (O(step=record); they are always written when the run stops or finishes).
    type: bool
  write_to:
    description: The directory of the approved plan (O(step=batch_plan), O(step=returns)).
    type: str
  strict:
    description: A drain that leaves a guest on a host going down is a failure (O(step=drain_outcome)).
    type: bool
  name:
    description: The name of the registered host variable to read (O(step=collect)).
    type: str
  label:
    description: The key of the loop items that names them (O(step=collect)).
    type: str
  what:
    description: What the step was, for messages (O(step=drain_outcome), O(step=collect), O(step=failures)).
    type: str
  active:
    description: The hosts still in the play (the others are unreachable).
    type: list
    elements: str
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
- name: Plan this batch's drain with the facts of now (internal to s390x.vfio_ap.maintenance)
  s390x.vfio_ap._rolling:
    step: batch_plan
    state: "{{ __vfio_ap_maintenance_rolling_saved.state }}"
    batch: 1
    fleet: "{{ ansible_play_hosts_all }}"
  register: __vfio_ap_maintenance_rolling_plan
  run_once: true
"""

RETURN = r"""
state:
  description: The run's state after the step (O(step=start), O(step=record), O(step=stop)).
  returned: O(step=start), O(step=record), O(step=stop)
  type: dict
state_text:
  description: The state file's new text.
  returned: O(step=start), O(step=record), O(step=stop)
  type: str
files:
  description: "The run's reports C({file name: text}) (C(rolling-run.*), and C(rolling-batch-N.*) of the batch)."
  returned: O(step=start), O(step=record), O(step=stop)
  type: dict
summary:
  description: The run's figures and verdict.
  returned: O(step=start), O(step=record), O(step=stop)
  type: dict
approved:
  description: The batch's drain, or the guests' return, as an approved evacuation plan.
  returned: O(step=batch_plan), O(step=returns)
  type: dict
verify:
  description: "C({host: result}) of the check after the reboot."
  returned: O(step=verify)
  type: dict
"""

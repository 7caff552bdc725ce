"""Fleet data shared by the simulator's tests (built in code, rendered or mounted by the tests)."""

from __future__ import annotations

U_PARSE = "10000000-0000-4000-8000-000000000001"  # empty mdev for assignment tests
U_OWNER = "10000000-0000-4000-8000-000000000002"  # holds 06.0009
U_GUEST = "10000000-0000-4000-8000-000000000003"  # adapters 6,7 x domain 12: guest_matrix filtering
U_CFG = "10000000-0000-4000-8000-000000000004"  # ap_config tests
U_MASK = "20000000-0000-4000-8000-000000000001"  # holds 02.0003 on host 'mask'
U_V1 = "30000000-0000-4000-8000-000000000001"  # series v1 mdev with a migratable file
U_NEW = "40000000-0000-4000-8000-0000000000aa"  # created by tests

SYSFS_FLEET = {
    "hosts": {
        # APQN (a, d) is host-owned iff a <= 5 and d <= 7; the rest is reserved for vfio_ap
        "h63": {
            "migration": "kernel",
            "max_adapter_id": 63,
            "max_domain_id": 15,
            "apmask": "0-5",
            "aqmask": "0-7",
            "cards": [
                {"id": 5, "type": "CEX8C", "domains": "0-15"},
                {"id": 6, "type": "CEX8C", "domains": "0-15"},
                {"id": 7, "type": "CEX8A", "domains": "0-11"},
            ],
            "mdevs": [
                {"uuid": U_PARSE},
                {"uuid": U_OWNER, "adapters": [6], "domains": [9], "control_domains": [9]},
                {"uuid": U_GUEST, "adapters": [6, 7], "domains": [12], "control_domains": [3, 12]},
                {"uuid": U_CFG},
            ],
        },
        # every queue starts with the host drivers except domain 3
        "mask": {
            "migration": "kernel",
            "aqmask": "0-2,4-255",
            "cards": [
                {"id": 1, "type": "CEX8C", "domains": "0-3"},
                {"id": 2, "type": "CEX8P", "domains": "0-3"},
            ],
            "mdevs": [{"uuid": U_MASK, "adapters": [2], "domains": [3], "control_domains": [3]}],
        },
        "v1": {
            "migration": "attribute",
            "aqmask": "0-7",
            "cards": [{"id": 6, "type": "CEX8C", "domains": "0-15"}],
            "mdevs": [{"uuid": U_V1, "adapters": [6], "domains": [9], "migratable": 0}],
        },
        "old": {
            "migration": "none",
            "cards": [{"id": 1, "type": "CEX7C", "domains": "0-3"}],
        },
    }
}

# Concurrency: workers share adapter 5 on four mdevs and fight over domains 0-5, while another
# worker hands adapter 5 back to the host drivers and takes it away again.
BUSY_UUIDS = [f"50000000-0000-4000-8000-00000000000{i}" for i in range(4)]
BUSY_FLEET = {
    "hosts": {
        "busy": {
            "apmask": "0-3",
            "cards": [{"id": a, "type": "CEX8C", "domains": "0-15"} for a in range(8)],
            "mdevs": [{"uuid": u, "adapters": [5]} for u in BUSY_UUIDS],
        }
    }
}

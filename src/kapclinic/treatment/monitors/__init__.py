"""Bedside monitors (issue 15): vitals sent as HL7 v2 ORU^R01 (IHE PCD-01) over MLLP, parsed with
python-hl7, matched to the session in progress, stored through the same path as typed readings,
and acknowledged only once committed. ``pcd01`` reads a message and writes its ACK, ``intake``
stores one, ``listener`` is the MLLP server, ``simulate`` a monitor for demos and tests."""

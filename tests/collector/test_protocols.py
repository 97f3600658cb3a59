"""Protocol parsers: every example line of docs/protocols.md, framing, and robustness.

Expected km/h values are worked out by hand from the exact factors
(m/s x 3.6, mph x 1.609344, ft/s x 1.09728, cm/s x 0.036).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.passes import Direction
from collector.protocols import PROTOCOLS, make_parser
from collector.reading import KINDS, Reading

T = datetime(2025, 6, 23, 12, 0, tzinfo=timezone.utc)
A, R, U = Direction.APPROACHING, Direction.RECEDING, Direction.UNKNOWN


def parse(name: str, data: bytes, **options) -> list[Reading]:
    parser = make_parser(name, **options)
    return parser.feed(data, T) + parser.flush(T)


def one(name: str, data: bytes, **options) -> Reading:
    out = parse(name, data, **options)
    assert len(out) == 1, out
    return out[0]


def check(r: Reading, kind: str, speed: float | None = None, direction: Direction = U) -> None:
    assert r.kind == kind, r
    if speed is None:
        assert r.speed_kmh is None
    else:
        assert r.speed_kmh == pytest.approx(speed, abs=1e-9)
    assert r.direction is direction


# --- OmniPreSense OPS24x -------------------------------------------------------------------


def test_ops_plain_negative_mps_is_receding():
    check(one("ops-plain", b"-12.3\r\n"), "reading", 44.28, R)


def test_ops_plain_positive_is_approaching():
    check(one("ops-plain", b"5.0\n"), "reading", 18.0, A)


@pytest.mark.parametrize(
    ("unit", "expected"),
    [("mps", 36.0), ("kmh", 10.0), ("mph", 16.09344), ("fps", 10.9728), ("cms", 0.36)],
)
def test_ops_plain_units_from_configuration(unit, expected):
    check(one("ops-plain", b"10\r", unit=unit), "reading", expected, A)


def test_ops_plain_time_magnitude_speed():
    r = one("ops-plain", b"1750719826.031, 467.7, -12.3\r\n")
    check(r, "reading", 44.28, R)
    assert r.device_time == 1750719826.031
    assert r.detail == {"magnitude": 467.7}


def test_ops_plain_configured_columns():
    r = one("ops-plain", b"12.5,-3\n", columns=("time", "speed"))
    check(r, "reading", 10.8, R)
    assert r.device_time == 12.5


def test_ops_plain_zero_is_idle():
    check(one("ops-plain", b"0.0\n"), "idle")


def test_ops_plain_garbage_names_field_and_value():
    r = one("ops-plain", b"12.x\n")
    assert r.kind == "malformed"
    assert "speed" in r.error and "'12.x'" in r.error and "ops-plain" in r.error


def test_ops_json_speed_string_numbers():
    r = one("ops-json", b'{"magnitude":"467.72","speed":"-0.25","distance":"0.00"}\r\n')
    check(r, "reading", 0.9, R)
    assert r.detail == {"magnitude": 467.72, "distance": "0.00"}


def test_ops_json_arrays_give_several_readings():
    out = parse("ops-json", b'{"magnitude":["467.72","300.1"],"speed":["-2.5","10.0"]}\n')
    assert [(r.kind, r.direction) for r in out] == [("reading", R), ("reading", A)]
    assert out[0].speed_kmh == pytest.approx(9.0)
    assert out[1].speed_kmh == pytest.approx(36.0)
    assert out[1].detail["magnitude"] == 300.1


@pytest.mark.parametrize(
    "line",
    [b'{"Units":"mph"}', b'{"OutputFeature":"J"}', b'{"Product":"OPS243"}', b'{"Version":"1.0.0"}'],
)
def test_ops_command_replies(line):
    r = one("ops-json", line + b"\r\n")
    assert r.kind == "reply" and r.speed_kmh is None
    assert r.detail and list(r.detail.values())[0] in ("mph", "J", "OPS243", "1.0.0")


def test_ops_units_reply_changes_later_speeds():
    out = parse("ops-plain", b'{"Units":"mph"}\n10\n')
    assert out[1].speed_kmh == pytest.approx(16.09344)


def test_ops_units_reply_can_be_ignored():
    out = parse("ops-plain", b'{"Units":"mph"}\n10\n', follow_unit_replies=False)
    assert out[1].speed_kmh == pytest.approx(36.0)


def test_ops_detected_object_velocity_is_a_vehicle():
    check(one("ops-json", b'{"DetectedObjectVelocity":"-12.3"}\n'), "vehicle", 44.28, R)


def test_ops_detected_object_with_time_unit_direction():
    r = one("ops-json", b'{"time":"105.2","unit":"mph","direction":"inbound","DetectedObjectVelocity":"30.0"}\n')
    check(r, "vehicle", 48.28032, A)
    assert r.device_time == 105.2


OC_LINE = (
    b'{"classifier" : "object_outbound", "end_time" : "1750719826.467", "start_time" : '
    b'"1750719826.031", "delta_time_msec" : 736, "max_speed_mps" : 13.39, "min_speed_mps" : '
    b'11.33, "max_magnitude" : 55, "avg_magnitude" : 36, "total_frames" : 7, "frames_per_mps" '
    b': 0.5228, "length_m" : 9.86, "speed_change" : 2.799}'
)


def test_ops_object_record_real_line():
    r = one("ops-json", OC_LINE + b"\r\n")
    check(r, "vehicle", 48.204, R)  # 13.39 m/s x 3.6
    assert r.length_m == pytest.approx(9.86)
    assert r.device_time == pytest.approx(1750719826.467)
    assert r.detail["total_frames"] == 7


def test_ops_object_record_imperial_inbound():
    r = one("ops-json", b'{"classifier":"object_inbound","max_speed_mph":30,"length_ft":16.4}\n')
    check(r, "vehicle", 48.28032, A)
    assert r.length_m == pytest.approx(4.99872)  # 16.4 ft x 0.3048


def test_ops_timed_speed_counts_is_a_bin():
    r = one(
        "ops-json",
        b'{"TimedSpeedCounts":{"time":"1800","direction":"inbound","units":"mph","count":"12","average":"25.0"}}\n',
        bin_interval_s=300,
    )
    assert r.kind == "bin" and r.count == 12 and r.direction is A
    assert r.mean_kmh == pytest.approx(40.2336)
    assert r.interval_s == 300 and r.device_time == 1800


def test_ops_timed_speed_counts_without_count_is_malformed():
    r = one("ops-json", b'{"TimedSpeedCounts":{"time":"1800","average":"25.0"}}\n')
    assert r.kind == "malformed" and "has no count" in r.error


def test_ops_bad_json_is_malformed():
    r = one("ops-json", b'{"speed": "1.0"\n')
    assert r.kind == "malformed" and "JSON" in r.error


def test_ops_json_bad_speed_names_field():
    r = one("ops-json", b'{"speed": "fast"}\n')
    assert r.kind == "malformed" and "speed 'fast'" in r.error


# --- HLK, Houston, Stalker, Decatur --------------------------------------------------------


def test_hlk_signed_kmh():
    out = parse("hlk-ld2415h", b"V+045.2\r\nV-032.8\r\n")
    check(out[0], "reading", 45.2, A)
    check(out[1], "reading", 32.8, R)


def test_hlk_garbage():
    r = one("hlk-ld2415h", b"X+045.2\n")
    assert r.kind == "malformed" and "'X+045.2'" in r.error


def test_houston_requires_a_unit():
    with pytest.raises(ValueError, match="needs a unit"):
        make_parser("houston-dr500")


def test_houston_lines_and_idle():
    out = parse("houston-dr500", b"045\r\n000\r\n?000\r\n+045\r-045\r", unit="mph")
    check(out[0], "reading", 72.42048, U)
    check(out[1], "idle")
    check(out[2], "idle")
    check(out[3], "reading", 72.42048, A)
    check(out[4], "reading", 72.42048, R)


def test_houston_sign_convention_option():
    check(one("houston-dr500", b"+050\r", unit="kmh", plus_means="receding"), "reading", 50.0, R)


def test_houston_per_vehicle_option():
    assert one("houston-dr500", b"050\r", unit="kmh", per_vehicle=True).kind == "vehicle"


def test_stalker_a_padded_and_idle():
    out = parse("stalker-a", b" 80.1\r   . \r", unit="mph")
    check(out[0], "reading", 128.9084544, U)
    check(out[1], "idle")


def test_stalker_s_frame():
    # C=closing peak 45, live C 43, strength 099, ratio 050, status N
    frame = b"C0045 C0043099050N\r"
    assert len(frame) == 19
    r = one("stalker-s", frame, unit="kmh")
    check(r, "reading", 43.0, A)
    assert r.detail["peak_kmh"] == 45.0 and r.detail["strength"] == "099"


def test_stalker_s_peak_field_and_away():
    r = one("stalker-s", b"A0061 A0058099050N\r", unit="kmh", speed_field="peak")
    check(r, "reading", 61.0, R)


def test_stalker_s_wrong_length():
    r = one("stalker-s", b"C0045 C0043\r", unit="kmh")
    assert r.kind == "malformed" and "11 bytes" in r.error


def test_decatur_directions_and_tenths():
    out = parse("decatur-si3", b"+45\r-45\r?45\r+123.4\r+0\r", unit="kmh")
    check(out[0], "reading", 45.0, A)
    check(out[1], "reading", 45.0, R)
    check(out[2], "reading", 45.0, U)
    check(out[3], "reading", 123.4, A)
    check(out[4], "idle")


# --- ICOMS TMA-296 -------------------------------------------------------------------------


def test_icoms_message_types():
    out = parse("icoms-tma296",
                b"+045 km/h\r\n045KI\r\n030MO\r\n+045\r\n*S045\r\n-045 km/h 123 m\r\n", unit="kmh")
    check(out[0], "reading", 45.0, A)
    check(out[1], "reading", 45.0, A)
    check(out[2], "reading", 48.28032, R)
    check(out[3], "reading", 45.0, A)
    check(out[4], "reading", 45.0, U)
    check(out[5], "reading", 45.0, R)
    assert [r.detail["message_type"] for r in out] == [1, 2, 2, 3, 4, 6]
    assert out[5].detail["distance_m"] == 123.0


def test_icoms_line_unit_wins_and_missing_unit_is_malformed():
    out = parse("icoms-tma296", b"+045 mph\r\n+045\r\n")
    check(out[0], "reading", 72.42048, A)
    assert out[1].kind == "malformed" and "unit" in out[1].error


# --- binary: MPH, Hikvision ----------------------------------------------------------------


def test_mph_frame_opposite_direction():
    r = one("mph-binary", bytes([0x02, 0x40, 0x00, 50, 0x00, 0x00, 0x03]), unit="mph")
    check(r, "reading", 80.4672, A)
    assert r.detail["patrol_kmh"] is None
    assert r.to_json_dict()["raw"] == "02400032000003"


def test_mph_same_direction_and_no_target():
    out = parse("mph-binary", bytes([2, 0, 0, 30, 0, 0, 3, 2, 0, 0, 3, 0, 0, 3]), unit="kmh")
    check(out[0], "reading", 30.0, R)
    check(out[1], "idle")


def test_mph_resynchronises_after_garbage():
    data = b"\xff\x02\x13" + bytes([2, 0x40, 0, 60, 0, 0, 3])
    out = parse("mph-binary", data, unit="kmh")
    assert [r.kind for r in out] == ["malformed", "reading"]
    assert out[0].raw == b"\xff\x02\x13"
    check(out[1], "reading", 60.0, A)


def test_hikvision_mode0_bytes():
    out = parse("hikvision-0", b"\x32\x00")
    check(out[0], "reading", 50.0, U)
    check(out[1], "idle")


def test_hikvision_mode1_directions():
    out = parse("hikvision-1", b"\xf9\x32\xf8\x1e\xf7\x28")
    check(out[0], "reading", 50.0, A)
    check(out[1], "reading", 30.0, R)
    check(out[2], "reading", 40.0, U)


def test_hikvision_mode2_ascii_with_and_without_terminators():
    out = parse("hikvision-2", b"+125-050\r\n+000")
    check(out[0], "reading", 125.0, A)
    check(out[1], "reading", 50.0, R)
    check(out[2], "idle")


def test_display_contract():
    out = parse("display-contract", b"045\r000\r", unit="kmh")
    check(out[0], "reading", 45.0, U)
    check(out[1], "idle")


# --- configurable pattern ------------------------------------------------------------------


def test_regex_named_groups():
    p = r"^(?P<time>\d+);(?P<speed>[\d,]+);(?P<direction>\w+)$"
    out = parse("regex", b"1719000000;47,5;IN\n1719000005;31;out\n", pattern=p, unit="kmh")
    check(out[0], "vehicle", 47.5, A)
    assert out[0].device_time == 1719000000
    check(out[1], "vehicle", 31.0, R)


def test_regex_custom_direction_tokens_and_unmapped():
    p = r"(?P<direction>[AC]) (?P<speed>\d+)"
    dirs = {"A": "receding", "C": "approaching"}
    out = parse("regex", b"A 30\nC 40\nX 50\n", pattern=p, unit="mph", directions=dirs)
    check(out[0], "vehicle", 48.28032, R)
    check(out[1], "vehicle", 64.37376, A)
    assert out[2].kind == "malformed"  # X does not match [AC]


def test_regex_sign_gives_direction_without_group():
    check(one("regex", b"v=-50\n", pattern=r"v=(?P<speed>[+-]?\d+)", unit="kmh"), "vehicle", 50.0, R)


def test_regex_configuration_errors():
    with pytest.raises(ValueError, match="pattern="):
        make_parser("regex", unit="kmh")
    with pytest.raises(ValueError, match="named group 'speed'"):
        make_parser("regex", pattern=r"(\d+)", unit="kmh")
    with pytest.raises(ValueError, match="not a valid regular expression"):
        make_parser("regex", pattern=r"(?P<speed>", unit="kmh")


# --- registry ------------------------------------------------------------------------------


def test_unknown_protocol_lists_known_ones():
    with pytest.raises(ValueError, match="ops-plain.*hlk-ld2415h"):
        make_parser("no-such-radar")


def test_unknown_option_is_a_value_error():
    with pytest.raises(ValueError, match="bad option"):
        make_parser("hlk-ld2415h", colour="red")


def test_registry_names():
    assert set(PROTOCOLS) == {
        "ops-plain", "ops-json", "hlk-ld2415h", "houston-dr500", "stalker-a", "stalker-s",
        "decatur-si3", "icoms-tma296", "mph-binary", "hikvision-0", "hikvision-1",
        "hikvision-2", "display-contract", "regex",
    }


# --- framing -------------------------------------------------------------------------------


def test_line_split_across_chunks():
    parser = make_parser("ops-plain")
    assert parser.feed(b"-12", T) == []
    out = parser.feed(b".3\r", T)
    check(out[0], "reading", 44.28, R)
    assert out[0].raw == b"-12.3"


def test_crlf_split_across_chunks_gives_no_empty_line():
    parser = make_parser("hlk-ld2415h")
    assert len(parser.feed(b"V+010.0\r", T)) == 1
    assert parser.feed(b"\nV+011.0", T) == []
    assert [r.speed_kmh for r in parser.flush(T)] == [11.0]


def test_bare_cr_and_lf_endings():
    out = parse("houston-dr500", b"030\r031\n032\r\n033\r", unit="kmh")
    assert [r.speed_kmh for r in out] == [30.0, 31.0, 32.0, 33.0]


def test_overlong_line_is_malformed_and_bounded():
    parser = make_parser("hlk-ld2415h", max_line=16)
    out = parser.feed(b"V" * 40, T) + parser.feed(b"9" * 40 + b"\rV+020.0\r", T)
    assert [r.kind for r in out] == ["malformed", "reading"]
    assert len(out[0].raw) == 16 and "terminator" in out[0].error


def test_reading_json_shape():
    d = one("ops-plain", b"-12.3\n").to_json_dict()
    assert d == {"kind": "reading", "speed_kmh": 44.28, "direction": "receding", "time": None,
                 "received_at": "2025-06-23T12:00:00+00:00", "raw": "-12.3"}


# --- robustness: any bytes, any chunking ---------------------------------------------------

OPTIONS = {
    "houston-dr500": {"unit": "mph"}, "stalker-a": {"unit": "mph"},
    "stalker-s": {"unit": "mph"}, "decatur-si3": {"unit": "mph"},
    "mph-binary": {"unit": "mph"}, "display-contract": {"unit": "kmh"},
    "regex": {"pattern": r"(?P<direction>[+-IO])?(?P<speed>[\d.,]+)(;(?P<time>[^;]*))?",
              "unit": "kmh"},
}
ALPHABET = b"0123456789+-.,;V?AC*SKMIO {}[]\":\r\n\x02\x03\xf7\xf8\xf9"
payloads = st.one_of(
    st.binary(max_size=300),
    st.lists(st.sampled_from(list(ALPHABET)), max_size=300).map(bytes),
    st.lists(st.sampled_from([b'{"speed":', b'"1.5"', b'["2",-3]', b'}', b'{"DetectedObjectVelocity":',
                              b'{"TimedSpeedCounts":{"count":', b'"max_speed_mps":', b',', b'\n',
                              b'null', b'1e999', b'{"classifier":"object_inbound"', b'"length_ft":']),
             max_size=30).map(b"".join),
    st.lists(st.sampled_from([b"\r\n", b"\r", b"\n", b"V+045.2", b"+045", b"-12.3", b"?000",
                              b"   . ", b" 80.1", b"045KI", b"*S045", b"+045 km/h 123 m",
                              b"C0045 C0043099050N", b"1.0,2.0,-3.5", b"\x02\x40\x00\x32\x00\x00\x03",
                              b"\xf9\x32", b"\x00"]),
             max_size=40).map(b"".join),
)


def run(name: str, chunks: list[bytes]) -> list[Reading]:
    parser = make_parser(name, **OPTIONS.get(name, {}))
    out = []
    for chunk in chunks:
        out += parser.feed(chunk, T)
    return out + parser.flush(T)


def cut(data: bytes, points: list[int] | None) -> list[bytes]:
    if points is None:  # one byte at a time
        return [data[i : i + 1] for i in range(len(data))]
    edges = sorted({p % (len(data) + 1) for p in points} | {0, len(data)})
    return [data[a:b] for a, b in zip(edges, edges[1:], strict=False)]


def summary(r: Reading) -> tuple:
    return (r.kind, r.speed_kmh, r.direction, r.raw, r.error, r.device_time, r.count)


@settings(max_examples=300, deadline=None)
@given(name=st.sampled_from(sorted(PROTOCOLS)), data=payloads,
       points=st.one_of(st.none(), st.lists(st.integers(min_value=0, max_value=400), max_size=12)))
def test_any_bytes_any_chunking_never_raises_and_is_chunking_invariant(name, data, points):
    whole = run(name, [data])
    chunked = run(name, cut(data, points))
    for r in whole + chunked:
        assert r.kind in KINDS
        assert r.received_at == T
        if r.kind == "malformed":
            assert r.error and "internal parser error" not in r.error, r
        if r.kind in ("vehicle", "reading"):
            assert r.speed_kmh is not None and r.speed_kmh > 0
        json.dumps(r.to_json_dict())
    assert [summary(r) for r in whole] == [summary(r) for r in chunked]

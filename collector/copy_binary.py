"""PostgreSQL's binary COPY format for ``readings`` rows, encoded from columns (numpy) at once.

Each row is a field count and, per field, a length and the big-endian value (length -1 for
NULL), so rows of one NULL pattern have one fixed layout: a structured array per pattern
(sign given or not, length given or not) encodes them without a Python step per row. Row order
does not matter to COPY. Pure: bytes out, no connection.
"""

from __future__ import annotations

import numpy as np

SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # flags and header extension: none
TRAILER = b"\xff\xff"
PG_EPOCH_US = 946_684_800_000_000  # 2000-01-01 UTC in µs since 1970: timestamptz counts from there
FIELDS = 8  # readings_copy: time, sign_id, site_id, direction, speed_kmh, display, length_m, idem_key


def readings_copy_data(time_us: np.ndarray, sign_id: np.ndarray, has_sign: np.ndarray, site_id: np.ndarray,
                       direction: np.ndarray, speed_kmh: np.ndarray, display: np.ndarray, length_m: np.ndarray,
                       key: np.ndarray) -> bytes:
    """The whole COPY stream (signature, rows, trailer) of the rows given as columns, in the
    column order of ``readings_copy``. ``length_m`` NaN and ``has_sign`` False are NULL; ``key``
    holds 16-byte keys (dtype V16); speeds and lengths are sent as 4-byte reals."""
    has_length = ~np.isnan(length_m)
    out = [SIGNATURE]
    for sign in (True, False):
        for length in (True, False):
            m = (has_sign == sign) & (has_length == length)
            k = int(np.count_nonzero(m))
            if not k:
                continue
            layout = [("n", ">i2"), ("l_time", ">i4"), ("time", ">i8"), ("l_sign", ">i4")]
            layout += [("sign", ">i4")] if sign else []
            layout += [("l_site", ">i4"), ("site", ">i4"), ("l_dir", ">i4"), ("dir", ">i2"),
                       ("l_speed", ">i4"), ("speed", ">f4"), ("l_disp", ">i4"), ("disp", ">i2"), ("l_len", ">i4")]
            layout += [("len", ">f4")] if length else []
            layout += [("l_key", ">i4"), ("key", "V16")]
            rows = np.empty(k, dtype=np.dtype(layout))
            rows["n"] = FIELDS
            rows["l_time"], rows["time"] = 8, time_us[m] - PG_EPOCH_US
            rows["l_sign"] = 4 if sign else -1
            if sign:
                rows["sign"] = sign_id[m]
            rows["l_site"], rows["site"] = 4, site_id[m]
            rows["l_dir"], rows["dir"] = 2, direction[m]
            rows["l_speed"], rows["speed"] = 4, speed_kmh[m].astype(np.float32)
            rows["l_disp"], rows["disp"] = 2, display[m]
            rows["l_len"] = 4 if length else -1
            if length:
                rows["len"] = length_m[m].astype(np.float32)
            rows["l_key"], rows["key"] = 16, key[m]
            out.append(rows.tobytes())
    out.append(TRAILER)
    return b"".join(out)

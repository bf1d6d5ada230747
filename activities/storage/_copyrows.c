/*
 * Statement rows as PostgreSQL binary COPY tuples, each with its sha256: the C twin of
 * `pgcopy.encode_statement_rows` plus `hashlib.sha256(row).digest()` per row.
 *
 * Why: intake's client spent about 2.6 ms of a 1,000-row batch's 7.5 in those two Python
 * loops (twelve fields, a dozen calls per row). This does the same in about a tenth of
 * that. The bytes are exactly those of the Python encoder (a hypothesis test compares the
 * two), so the audit digests do not depend on which one ran; where this module cannot be
 * built (no compiler, no OpenSSL headers) `pgcopy` uses the Python loop.
 *
 * encode_hashed(rows) -> (data, digests)
 *   rows: a sequence of tuples in `intake.STATEMENT_COLUMNS` order (procedure_id str,
 *   statement_id str as a lower-case uuid, sequence int, round int, phase_id str,
 *   author_ref str | None, statement_type str, text str, attachments sequence of str,
 *   received_at aware datetime, late bool, receipt_digest str).
 *   data: the rows' COPY tuples, concatenated (no header, no trailer);
 *   digests: the 32-byte sha256 of each row's tuple, concatenated in row order.
 * Errors: ValueError for a statement id that is not a lower-case uuid, OverflowError for a
 * sequence or round beyond int32, TypeError for a value of the wrong type (as the Python
 * encoder: it raises struct.error or TypeError there).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <datetime.h>
#include <stdint.h>
#include <string.h>

#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>

#define COLUMNS 12
#define TEXT_OID 25
/* Days from 0001-01-01 (ordinal 1) to 2000-01-01, PostgreSQL's epoch. */
#define PG_EPOCH_ORDINAL 730120

typedef struct {
    char *data;
    Py_ssize_t len;
    Py_ssize_t cap;
} Buffer;

static int
reserve(Buffer *buf, Py_ssize_t more)
{
    if (buf->len + more <= buf->cap) {
        return 0;
    }
    Py_ssize_t cap = buf->cap ? buf->cap : 4096;
    while (cap < buf->len + more) {
        cap *= 2;
    }
    char *grown = PyMem_Realloc(buf->data, (size_t)cap);
    if (grown == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    buf->data = grown;
    buf->cap = cap;
    return 0;
}

/* `size` bytes of `value`, big-endian (network order, as COPY's binary format wants). The
   callers have reserved the room. */
static inline void
put_be(Buffer *buf, uint64_t value, int size)
{
    unsigned char *p = (unsigned char *)buf->data + buf->len;
    for (int i = size - 1; i >= 0; i--) {
        p[i] = (unsigned char)value;
        value >>= 8;
    }
    buf->len += size;
}

#define put_int16(buf, value) put_be((buf), (uint16_t)(value), 2)
#define put_int32(buf, value) put_be((buf), (uint32_t)(value), 4)
#define put_int64(buf, value) put_be((buf), (uint64_t)(value), 8)

/* A text field: int32 length, UTF-8 bytes. */
static int
put_text(Buffer *buf, PyObject *value)
{
    if (!PyUnicode_Check(value)) {
        PyErr_Format(PyExc_TypeError, "expected str, got %.100s", Py_TYPE(value)->tp_name);
        return -1;
    }
    Py_ssize_t size;
    const char *utf8 = PyUnicode_AsUTF8AndSize(value, &size);
    if (utf8 == NULL) {
        return -1;
    }
    if (size > INT32_MAX || reserve(buf, 4 + size) < 0) {
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_OverflowError, "text field longer than 2 GB");
        }
        return -1;
    }
    put_int32(buf, (int32_t)size);
    memcpy(buf->data + buf->len, utf8, (size_t)size);
    buf->len += size;
    return 0;
}

static int
put_int4_field(Buffer *buf, PyObject *value)
{
    if (!PyLong_Check(value)) {
        PyErr_Format(PyExc_TypeError, "expected int, got %.100s", Py_TYPE(value)->tp_name);
        return -1;
    }
    int overflow = 0;
    long long number = PyLong_AsLongLongAndOverflow(value, &overflow);
    if (number == -1 && PyErr_Occurred()) {
        return -1;
    }
    if (overflow || number < INT32_MIN || number > INT32_MAX) {
        PyErr_SetString(PyExc_OverflowError, "integer out of PostgreSQL integer range");
        return -1;
    }
    if (reserve(buf, 8) < 0) {
        return -1;
    }
    put_int32(buf, 4);
    put_int32(buf, (int32_t)number);
    return 0;
}

static int
hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    return -1;
}

/* A lower-case uuid in its 36-character text form, as 16 bytes. */
static int
put_uuid(Buffer *buf, PyObject *value)
{
    Py_ssize_t size = 0;
    const char *text = PyUnicode_Check(value) ? PyUnicode_AsUTF8AndSize(value, &size) : NULL;
    if (text == NULL && PyErr_Occurred()) {
        return -1;
    }
    unsigned char out[16];
    int ok = text != NULL && size == 36;
    for (int i = 0, j = 0; ok && i < 36;) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            ok = text[i] == '-';
            i++;
            continue;
        }
        int high = hex_value(text[i]), low = hex_value(text[i + 1]);
        ok = high >= 0 && low >= 0;
        out[j++] = (unsigned char)(high << 4 | low);
        i += 2;
    }
    if (!ok) {
        PyErr_SetString(PyExc_ValueError, "statement_id: expected a lower-case uuid");
        return -1;
    }
    if (reserve(buf, 20) < 0) {
        return -1;
    }
    put_int32(buf, 16);
    memcpy(buf->data + buf->len, out, 16);
    buf->len += 16;
    return 0;
}

static int
put_text_array(Buffer *buf, PyObject *items)
{
    PyObject *fast = PySequence_Fast(items, "attachments: expected a sequence of str");
    if (fast == NULL) {
        return -1;
    }
    Py_ssize_t count = PySequence_Fast_GET_SIZE(fast);
    if (reserve(buf, 24) < 0) { /* the length word and at most five header words */
        Py_DECREF(fast);
        return -1;
    }
    Py_ssize_t length_at = buf->len;
    put_int32(buf, 0); /* the field's length, filled in below */
    if (count == 0) {
        put_int32(buf, 0); /* no dimensions */
        put_int32(buf, 0);
        put_int32(buf, TEXT_OID);
    }
    else {
        put_int32(buf, 1); /* one dimension */
        put_int32(buf, 0); /* no nulls */
        put_int32(buf, TEXT_OID);
        put_int32(buf, (int32_t)count);
        put_int32(buf, 1); /* lower bound */
        for (Py_ssize_t i = 0; i < count; i++) {
            if (put_text(buf, PySequence_Fast_GET_ITEM(fast, i)) < 0) {
                Py_DECREF(fast);
                return -1;
            }
        }
    }
    Py_DECREF(fast);
    Py_ssize_t body = buf->len - length_at - 4;
    if (body > INT32_MAX) {
        PyErr_SetString(PyExc_OverflowError, "attachments longer than 2 GB");
        return -1;
    }
    Py_ssize_t end = buf->len;
    buf->len = length_at;
    put_int32(buf, (int32_t)body);
    buf->len = end;
    return 0;
}

/* Days before the first of `month` in a year (1-based month), leap years included. */
static int64_t
ordinal(int year, int month, int day)
{
    static const int before[] = {0, 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};
    int64_t y = year - 1;
    int64_t days = y * 365 + y / 4 - y / 100 + y / 400 + before[month] + day;
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (month > 2 && leap) {
        days += 1;
    }
    return days;
}

/* An aware datetime as microseconds since 2000-01-01 00:00 UTC (timestamptz's binary form). */
static int
put_timestamptz(Buffer *buf, PyObject *value)
{
    if (!PyDateTime_Check(value)) {
        PyErr_Format(PyExc_TypeError, "expected datetime, got %.100s", Py_TYPE(value)->tp_name);
        return -1;
    }
    PyObject *tz = PyDateTime_DATE_GET_TZINFO(value);
    int64_t offset_us = 0;
    if (tz == Py_None) {
        PyErr_SetString(PyExc_TypeError, "can't subtract offset-naive and offset-aware datetimes");
        return -1;
    }
    if (tz != PyDateTime_TimeZone_UTC) {
        PyObject *offset = PyObject_CallMethod(value, "utcoffset", NULL);
        if (offset == NULL) {
            return -1;
        }
        if (!PyDelta_Check(offset)) {
            Py_DECREF(offset);
            PyErr_SetString(PyExc_TypeError,
                            "can't subtract offset-naive and offset-aware datetimes");
            return -1;
        }
        offset_us = ((int64_t)PyDateTime_DELTA_GET_DAYS(offset) * 86400 +
                     PyDateTime_DELTA_GET_SECONDS(offset)) * 1000000 +
                    PyDateTime_DELTA_GET_MICROSECONDS(offset);
        Py_DECREF(offset);
    }
    if (reserve(buf, 12) < 0) {
        return -1;
    }
    int64_t days = ordinal(PyDateTime_GET_YEAR(value), PyDateTime_GET_MONTH(value),
                           PyDateTime_GET_DAY(value)) - PG_EPOCH_ORDINAL;
    int64_t seconds = days * 86400 + PyDateTime_DATE_GET_HOUR(value) * 3600 +
                      PyDateTime_DATE_GET_MINUTE(value) * 60 +
                      PyDateTime_DATE_GET_SECOND(value);
    put_int32(buf, 8);
    put_int64(buf, seconds * 1000000 + PyDateTime_DATE_GET_MICROSECOND(value) - offset_us);
    return 0;
}

static int
put_row(Buffer *buf, PyObject *row)
{
    PyObject *fast = PySequence_Fast(row, "expected a row tuple");
    if (fast == NULL) {
        return -1;
    }
    if (PySequence_Fast_GET_SIZE(fast) != COLUMNS) {
        Py_DECREF(fast);
        PyErr_Format(PyExc_ValueError, "expected %d values per row", COLUMNS);
        return -1;
    }
    PyObject **v = PySequence_Fast_ITEMS(fast);
    int result = -1;
    /* Each writer below reserves the room it writes into; the field count's 2 bytes here. */
    if (reserve(buf, 2) < 0) {
        goto done;
    }
    put_int16(buf, COLUMNS);
    if (put_text(buf, v[0]) < 0 || put_uuid(buf, v[1]) < 0 ||
        put_int4_field(buf, v[2]) < 0 || put_int4_field(buf, v[3]) < 0 ||
        put_text(buf, v[4]) < 0) {
        goto done;
    }
    if (v[5] == Py_None) {
        if (reserve(buf, 4) < 0) {
            goto done;
        }
        put_int32(buf, -1);
    }
    else if (put_text(buf, v[5]) < 0) {
        goto done;
    }
    if (put_text(buf, v[6]) < 0 || put_text(buf, v[7]) < 0 || put_text_array(buf, v[8]) < 0 ||
        put_timestamptz(buf, v[9]) < 0) {
        goto done;
    }
    int late = PyObject_IsTrue(v[10]);
    if (late < 0 || reserve(buf, 5) < 0) {
        goto done;
    }
    put_int32(buf, 1);
    buf->data[buf->len++] = (char)late;
    result = put_text(buf, v[11]);
done:
    Py_DECREF(fast);
    return result;
}

/* The buffer of the last call, for the next; at most KEPT_MAX bytes are kept. */
#define KEPT_MAX (8 * 1024 * 1024)
static Buffer kept = {NULL, 0, 0};

static void
keep(Buffer buf)
{
    if (buf.cap > KEPT_MAX) {
        PyMem_Free(buf.data);
        return;
    }
    PyMem_Free(kept.data);
    kept = buf;
}

static PyObject *
encode_hashed(PyObject *Py_UNUSED(module), PyObject *rows)
{
    PyObject *fast = PySequence_Fast(rows, "rows: expected a sequence of row tuples");
    if (fast == NULL) {
        return NULL;
    }
    Py_ssize_t count = PySequence_Fast_GET_SIZE(fast);
    PyObject *digests = PyBytes_FromStringAndSize(NULL, count * SHA256_DIGEST_LENGTH);
    /* One buffer kept between calls (the GIL is held throughout): a fresh one of several
       hundred KB per call came from mmap and cost a page fault per 4 KB. */
    Buffer buf = kept;
    buf.len = 0;
    kept = (Buffer){NULL, 0, 0};
    if (digests == NULL || reserve(&buf, count * 512) < 0) {
        goto fail;
    }
    unsigned char *digest = (unsigned char *)PyBytes_AS_STRING(digests);
    for (Py_ssize_t i = 0; i < count; i++) {
        Py_ssize_t start = buf.len;
        if (put_row(&buf, PySequence_Fast_GET_ITEM(fast, i)) < 0) {
            goto fail;
        }
        /* The low-level calls: OpenSSL 3's one-shot SHA256() fetches the algorithm from
           its provider (and takes a lock) on every call, which cost more than hashing. */
        SHA256_CTX ctx;
        SHA256_Init(&ctx);
        SHA256_Update(&ctx, buf.data + start, (size_t)(buf.len - start));
        SHA256_Final(digest + i * SHA256_DIGEST_LENGTH, &ctx);
    }
    PyObject *data = PyBytes_FromStringAndSize(buf.data, buf.len);
    keep(buf);
    Py_DECREF(fast);
    if (data == NULL) {
        Py_DECREF(digests);
        return NULL;
    }
    PyObject *result = PyTuple_Pack(2, data, digests);
    Py_DECREF(data);
    Py_DECREF(digests);
    return result;
fail:
    keep(buf);
    Py_XDECREF(digests);
    Py_DECREF(fast);
    return NULL;
}

static PyMethodDef methods[] = {
    {"encode_hashed", encode_hashed, METH_O,
     "encode_hashed(rows) -> (data, digests): rows as binary COPY tuples and their sha256s."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_copyrows",
    "Statement rows as binary COPY tuples with their sha256s (see pgcopy).", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__copyrows(void)
{
    PyDateTime_IMPORT;
    if (PyDateTimeAPI == NULL) {
        return NULL;
    }
    return PyModule_Create(&module);
}

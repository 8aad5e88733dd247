//! The fast path of [`super::admin_orders_page`]: a successful page read straight into typed,
//! borrowing structs instead of a `serde_json::Value` tree.
//!
//! It reads only the fields an [`Order`] needs and lets serde skip the rest without building
//! them, which is what makes ingestion cheaper than a plain `Value` parse of the same bytes.
//! It is not a second decoder with rules of its own: every field is read with the same
//! leniency as the `Value` path (numbers as text, placeholders, `charge` shapes, `created` or
//! `created_timestamp`), the skip and warning texts are the same, and any answer it is not sure
//! of (an error code, a missing `data`, an entry that is not an object, a duplicated key)
//! makes it return `None`, so the `Value` path decides. A test holds the two paths equal over
//! drifted pages.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDateTime, Utc};
use rust_decimal::Decimal;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use super::OrdersPage;
use crate::domain::{Money, Order, OrderId, OrderStatus, ServiceId};

/// Decodes a 2xx body that is a plain page of orders; `None` hands it to the `Value` path.
pub(super) fn page(body: &str) -> Option<OrdersPage> {
    let Obj(envelope) = serde_json::from_str::<Obj<Envelope<'_>>>(body).ok()?;
    if envelope.error_code.as_i64().unwrap_or(0) != 0 {
        return None;
    }
    let Obj(data) = envelope.data?;
    let entries = data.list?.0;

    let mut out = OrdersPage {
        entries: entries.len(),
        count: data.count.as_u64(),
        has_next: envelope
            .pagination
            .and_then(|Obj(p)| match p.next_page_href {
                Loose::Missing => None,
                href => Some(href.text().is_some_and(|h| !h.trim().is_empty())),
            }),
        ..OrdersPage::default()
    };
    out.orders.reserve(entries.len());
    for (index, (key, Obj(raw))) in entries.into_iter().enumerate() {
        match raw.order(key.as_deref()) {
            Ok((order, warning)) => {
                out.warnings.extend(warning);
                out.orders.push(order);
            }
            Err(why) => {
                let which = key.map_or_else(|| format!("#{index}"), |k| format!("{k:?}"));
                out.warnings.push(format!("order {which} skipped: {why}"));
            }
        }
    }
    Some(out)
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    data: Option<Obj<Data<'a>>>,
    #[serde(default, borrow)]
    error_code: Loose<'a>,
    #[serde(borrow)]
    pagination: Option<Obj<Pagination<'a>>>,
}

#[derive(Deserialize)]
struct Data<'a> {
    #[serde(borrow)]
    list: Option<List<'a>>,
    #[serde(default, borrow)]
    count: Loose<'a>,
}

#[derive(Deserialize)]
struct Pagination<'a> {
    #[serde(default, borrow)]
    next_page_href: Loose<'a>,
}

/// `data.list` as an array, as an object keyed by id, or `null`.
struct List<'a>(Vec<(Option<Cow<'a, str>>, Obj<RawOrder<'a>>)>);

impl<'de: 'a, 'a> Deserialize<'de> for List<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ListVisitor<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for ListVisitor<'a> {
            type Value = List<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list or an object of orders")
            }
            fn visit_unit<E>(self) -> Result<List<'a>, E> {
                Ok(List(Vec::new()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<List<'a>, A::Error> {
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(order) = seq.next_element::<Obj<RawOrder<'a>>>()? {
                    out.push((None, order));
                }
                Ok(List(out))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<List<'a>, A::Error> {
                let mut out = Vec::new();
                while let Some(key) = map.next_key::<Cow<'a, str>>()? {
                    let order = map.next_value::<Obj<RawOrder<'a>>>()?;
                    out.push((Some(key), order));
                }
                // `Value` keeps an object's keys sorted (and the last of duplicated ones).
                out.sort_by(|a, b| a.0.cmp(&b.0));
                if out.windows(2).any(|w| w[0].0 == w[1].0) {
                    return Err(de::Error::custom("duplicated order key"));
                }
                Ok(List(out))
            }
        }
        d.deserialize_any(ListVisitor(std::marker::PhantomData))
    }
}

/// A struct read only from a JSON object: serde's derive would also take an array, where the
/// `Value` path sees no object.
struct Obj<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Obj<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ObjVisitor<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjVisitor<T> {
            type Value = Obj<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Obj<T>, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map)).map(Obj)
            }
        }
        d.deserialize_map(ObjVisitor(std::marker::PhantomData))
    }
}

/// The fields of one order that [`Order`] needs, as the panel wrote them.
#[derive(Deserialize)]
struct RawOrder<'a> {
    #[serde(default, borrow)]
    id: Loose<'a>,
    #[serde(default, borrow)]
    service_id: Loose<'a>,
    #[serde(default, borrow)]
    service: Loose<'a>,
    #[serde(default, borrow)]
    service_name: Loose<'a>,
    #[serde(default, borrow)]
    status: Loose<'a>,
    #[serde(default, borrow)]
    quantity: Loose<'a>,
    #[serde(default, borrow)]
    remains: Loose<'a>,
    #[serde(default, borrow)]
    provider: Loose<'a>,
    #[serde(default, borrow)]
    charge: Loose<'a>,
    #[serde(default, borrow)]
    created_timestamp: Loose<'a>,
    #[serde(default, borrow)]
    created: Loose<'a>,
}

impl RawOrder<'_> {
    /// Mirrors `decode::order`: the same fields, fallbacks and messages.
    fn order(self, key: Option<&str>) -> Result<(Order, Option<String>), String> {
        let id = match self.id.as_u64() {
            Some(id) => id,
            None => key
                .and_then(|k| k.trim().parse().ok())
                .ok_or("no usable id")?,
        };
        let service = match self.service_id {
            Loose::Missing => &self.service,
            _ => &self.service_id,
        };
        let service = service
            .as_u64()
            .ok_or_else(|| format!("order {id} has no usable service_id"))?;
        let raw_status = self
            .status
            .text()
            .ok_or_else(|| format!("order {id} has no status"))?;
        let created = self
            .created()
            .ok_or_else(|| format!("order {id} has no usable creation time"))?;

        let status = OrderStatus::parse(&raw_status);
        let warning = match &status {
            OrderStatus::Unknown(raw) => Some(format!("order {id} has an unknown status {raw:?}")),
            _ => None,
        };
        let charge = match &self.charge {
            Loose::Charge(value) => value.decimal(),
            other => other.decimal(),
        };
        let order = Order {
            id: OrderId(id),
            service: ServiceId(service),
            service_name: self
                .service_name
                .text()
                .map(Cow::into_owned)
                .unwrap_or_default(),
            status,
            quantity: self.quantity.as_u64(),
            remains: self.remains.as_u64(),
            provider: self
                .provider
                .text()
                .filter(|p| !p.trim().is_empty())
                .map(Cow::into_owned),
            charge: charge.map(Money),
            created,
        };
        Ok((order, warning))
    }

    fn created(&self) -> Option<DateTime<Utc>> {
        let from_stamp = self
            .created_timestamp
            .as_i64()
            .filter(|s| *s > 0)
            .and_then(|s| DateTime::from_timestamp(s, 0));
        from_stamp.or_else(|| {
            let text = self.created.text()?;
            let text = text.trim();
            NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S")
                .map(|n| n.and_utc())
                .ok()
                .or_else(|| DateTime::parse_from_rfc3339(text).ok().map(|d| d.to_utc()))
        })
    }
}

/// One JSON value read leniently: text and numbers are kept, anything else only noted.
#[derive(Default)]
enum Loose<'a> {
    /// The key was absent.
    #[default]
    Missing,
    Text(Cow<'a, str>),
    Number(serde_json::Number),
    /// An object's `value` (how `charge` comes), or `Other` when it has none.
    Charge(Box<Loose<'a>>),
    /// `null`, a boolean, an array.
    Other,
}

impl<'a> Loose<'a> {
    /// Mirrors `decode::decimal`.
    fn decimal(&self) -> Option<Decimal> {
        let text = match self {
            Loose::Text(s) => Cow::Borrowed(s.trim()),
            Loose::Number(n) => Cow::Owned(n.to_string()),
            _ => return None,
        };
        Decimal::from_str(&text)
            .or_else(|_| Decimal::from_scientific(&text))
            .ok()
    }

    /// Mirrors `decode::as_u64`, without going through a decimal for plain integers.
    fn as_u64(&self) -> Option<u64> {
        match self {
            Loose::Number(n) if n.is_u64() => n.as_u64(),
            Loose::Text(s) if plain_digits(s) => s.parse().ok(),
            _ => {
                let d = self.decimal()?;
                if d.is_sign_negative() || !d.fract().is_zero() {
                    return None;
                }
                u64::try_from(d).ok()
            }
        }
    }

    /// Mirrors `decode::as_i64`.
    fn as_i64(&self) -> Option<i64> {
        match self {
            Loose::Number(n) if n.is_i64() => n.as_i64(),
            Loose::Text(s) if plain_digits(s) => s.parse().ok(),
            _ => {
                let d = self.decimal()?;
                if !d.fract().is_zero() {
                    return None;
                }
                i64::try_from(d).ok()
            }
        }
    }

    /// Mirrors `decode::text_of`.
    fn text(&self) -> Option<Cow<'a, str>> {
        match self {
            Loose::Text(s) => Some(s.clone()),
            Loose::Number(n) => Some(Cow::Owned(n.to_string())),
            _ => None,
        }
    }
}

/// Up to 18 ASCII digits: parses as an integer exactly as a decimal would read it.
fn plain_digits(s: &str) -> bool {
    !s.is_empty() && s.len() <= 18 && s.bytes().all(|b| b.is_ascii_digit())
}

impl<'de: 'a, 'a> Deserialize<'de> for Loose<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(LooseVisitor(std::marker::PhantomData))
    }
}

struct LooseVisitor<'a>(std::marker::PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for LooseVisitor<'a> {
    type Value = Loose<'a>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Loose<'a>, E> {
        Ok(Loose::Text(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Loose<'a>, E> {
        Ok(Loose::Text(Cow::Owned(v.to_string())))
    }
    fn visit_string<E>(self, v: String) -> Result<Loose<'a>, E> {
        Ok(Loose::Text(Cow::Owned(v)))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Loose<'a>, E> {
        Ok(Loose::Number(v.into()))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Loose<'a>, E> {
        Ok(Loose::Number(v.into()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Loose<'a>, E> {
        // A JSON number is always finite; mirror `Value`, which would refuse the page.
        serde_json::Number::from_f64(v)
            .map(Loose::Number)
            .ok_or_else(|| E::custom("a number that is not finite"))
    }
    fn visit_bool<E>(self, _: bool) -> Result<Loose<'a>, E> {
        Ok(Loose::Other)
    }
    fn visit_unit<E>(self) -> Result<Loose<'a>, E> {
        Ok(Loose::Other)
    }
    fn visit_none<E>(self) -> Result<Loose<'a>, E> {
        Ok(Loose::Other)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Loose<'a>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Loose::Other)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Loose<'a>, A::Error> {
        let mut value = None;
        while let Some(key) = map.next_key::<Cow<'a, str>>()? {
            if key == "value" {
                if value.is_some() {
                    // `Value` keeps the last of duplicated keys; leave such oddities to it.
                    return Err(de::Error::custom("duplicated value"));
                }
                value = Some(map.next_value::<Loose<'a>>()?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(Loose::Charge(Box::new(value.unwrap_or(Loose::Other))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The two paths read the same bytes the same way, drifted or not.
    #[test]
    fn the_typed_path_agrees_with_the_value_path() {
        let orders = json!([
            {"id": "23501", "service_id": 17, "service_name": "TikTok Views",
             "status": "COMPLETED", "quantity": "1000", "remains": 0, "start_count": "N/A",
             "charge": {"value": 0.27819, "currency_code": "USD"}, "provider": 7,
             "created": "2024-05-01 10:00:00"},
            {"id": 2, "service": "18", "status": "In Progress", "quantity": "12.0",
             "remains": -1, "charge": "1e-3", "provider": " ", "created_timestamp": "1714557600"},
            {"id": 3, "service_id": null, "service": 5, "status": "weird",
             "created_timestamp": 0, "created": "2024-05-01T10:00:00+02:00"},
            {"id": 4, "service_id": 5, "status": 1, "created": "yesterday"},
            {"service_id": 5, "status": "pending", "created_timestamp": 1714557600},
            {"id": 6, "service_id": "x", "status": "pending", "created_timestamp": 1},
            {"id": 7, "service_id": 1, "created_timestamp": 1,
             "service_name": "caf\u{e9} \"quoted\"", "status": "partial", "charge": [1]}
        ]);
        let keyed = json!({"11": {"service_id": 1, "status": "completed", "created_timestamp": 5},
                           "x": {"service_id": 1, "status": "completed", "created_timestamp": 5}});
        for list in [orders, keyed, json!({}), json!([]), Value::Null] {
            for pagination in [
                json!({"next_page_href": ""}),
                json!({"next_page_href": "u"}),
                json!({"next_page_href": null}),
                json!({}),
                Value::Null,
            ] {
                let body = json!({"data": {"count": "7", "list": list.clone()},
                                  "error_code": 0, "pagination": pagination})
                .to_string();
                let typed = page(&body);
                let value: Value = serde_json::from_str(&body).unwrap();
                let slow = super::super::page(&value).unwrap();
                // A `null` list is rare enough to leave to the `Value` path.
                if typed.is_some() || !list.is_null() {
                    assert_eq!(typed, Some(slow), "{body}");
                }
            }
        }
    }

    #[test]
    fn answers_it_is_unsure_of_go_to_the_value_path() {
        for body in [
            r#"{"data": null, "error_code": 0}"#,
            r#"{"data": {"list": []}, "error_code": 3, "error_message": "bad"}"#,
            r#"{"error": "Too many requests"}"#,
            r#"{"data": {"list": [1]}}"#,
            r#"{"data": {"list": 5}}"#,
            r#"{"data": {"count": 1}}"#,
            r#"[{"list": []}]"#,
            r#"{"data": [[]]}"#,
            r#"{"data": {"list": [["1", 2, "completed"]]}}"#,
        ] {
            assert!(page(body).is_none(), "{body}");
        }
    }

    use serde_json::Value;
}

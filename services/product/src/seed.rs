//! The demo catalog: ten categories and 200 products built from lists in code, identical on
//! every run (ids, SKUs, prices, weights and timestamps included), plus the initial stock of
//! each product for the inventory service.
//!
//! Each category has five base items and four variants (a line, an edition or a colour); every
//! item-variant pair is a product whose SKU is `<PREFIX>-<item><variant>` (`ELEC-0102`), whose
//! price is the item's base price scaled by the variant and rounded to end in .99, and whose
//! weight is the item's base weight scaled likewise.

use ballast_kit::events::catalog::ProductCreated;
use ballast_kit::events::{Event, outbox};
use ballast_kit::store::{Dialect, Store};
use sqlx::Row;

/// Where the catalog's timestamps start (2025-01-01T00:00:00Z), so seeded rows never change.
const CATALOG_EPOCH_MILLIS: i64 = 1_735_689_600_000;

/// How a variant joins its item's name.
#[derive(Clone, Copy)]
enum Naming {
    /// `Nimbus Wireless Earbuds`.
    Prefix,
    /// `The Quiet Harbor (Hardcover)`.
    Suffix,
}

/// A base item: name, description, price in cents, weight in grams.
type Item = (&'static str, &'static str, i64, i64);
/// A variant: label, description sentence, price percent, weight percent.
type Variant = (&'static str, &'static str, i64, i64);

/// A seeded category and its items and variants.
struct CategorySpec {
    slug: &'static str,
    name: &'static str,
    prefix: &'static str,
    naming: Naming,
    items: [Item; 5],
    variants: [Variant; 4],
}

const CATEGORIES: [CategorySpec; 10] = [
    CategorySpec {
        slug: "electronics",
        name: "Electronics",
        prefix: "ELEC",
        naming: Naming::Prefix,
        items: [
            (
                "Wireless Earbuds",
                "True wireless earbuds with active noise cancellation and a pocket-sized charging case.",
                7999,
                60,
            ),
            (
                "Bluetooth Speaker",
                "Portable speaker with 360-degree sound, a 12-hour battery and splash resistance.",
                5999,
                680,
            ),
            (
                "USB-C Charger",
                "Fast GaN wall charger with power delivery for laptops, tablets and phones.",
                3499,
                150,
            ),
            (
                "Mechanical Keyboard",
                "Tenkeyless keyboard with hot-swappable switches and per-key backlighting.",
                8999,
                900,
            ),
            (
                "4K Webcam",
                "Ultra HD webcam with autofocus, dual microphones and a privacy shutter.",
                12999,
                220,
            ),
        ],
        variants: [
            (
                "Nimbus",
                "Sensible everyday model with a two-year warranty.",
                100,
                100,
            ),
            (
                "Nimbus Pro",
                "Pro model with premium materials and app-based tuning.",
                145,
                110,
            ),
            (
                "Vertex",
                "Value model that keeps the essentials and drops the frills.",
                80,
                95,
            ),
            (
                "Vertex Max",
                "Flagship model with the longest battery life in the range.",
                175,
                120,
            ),
        ],
    },
    CategorySpec {
        slug: "books",
        name: "Books",
        prefix: "BOOK",
        naming: Naming::Suffix,
        items: [
            (
                "The Quiet Harbor",
                "A slow-burning novel about a lighthouse keeper and the town that forgot him.",
                1499,
                320,
            ),
            (
                "Practical Systems Programming",
                "Hands-on guide to building fast, reliable services, with worked examples.",
                3999,
                780,
            ),
            (
                "A Field Guide to Garden Birds",
                "Illustrated guide to 250 species, with songs, nests and seasonal plumage.",
                2299,
                540,
            ),
            (
                "Cooking with Cast Iron",
                "Ninety recipes and the care routine that keeps a skillet going for generations.",
                2699,
                860,
            ),
            (
                "The Long Game",
                "Essays on strategy, patience and compounding, from chess to careers.",
                1899,
                410,
            ),
        ],
        variants: [
            ("Paperback", "Paperback edition.", 100, 100),
            (
                "Hardcover",
                "Cloth-bound hardcover with a ribbon marker.",
                175,
                160,
            ),
            (
                "Large Print",
                "Large-print edition set in 16-point type.",
                130,
                140,
            ),
            (
                "Collector's Edition",
                "Signed, numbered collector's edition in a slipcase.",
                320,
                210,
            ),
        ],
    },
    CategorySpec {
        slug: "home-kitchen",
        name: "Home & Kitchen",
        prefix: "HOME",
        naming: Naming::Prefix,
        items: [
            (
                "Espresso Machine",
                "15-bar pump espresso machine with a steam wand for milk-based drinks.",
                24999,
                9000,
            ),
            (
                "Chef's Knife",
                "Eight-inch chef's knife forged from high-carbon steel, balanced for long prep sessions.",
                5999,
                250,
            ),
            (
                "Cast Iron Skillet",
                "Pre-seasoned 12-inch skillet that goes from stovetop to oven to campfire.",
                3999,
                2300,
            ),
            (
                "Pour-Over Kettle",
                "Gooseneck kettle with a built-in thermometer for precise pour-over coffee.",
                4499,
                900,
            ),
            (
                "Bamboo Cutting Board",
                "Thick, knife-friendly bamboo board with a juice groove and side handles.",
                2499,
                1200,
            ),
        ],
        variants: [
            (
                "Classic",
                "Timeless design that suits any kitchen.",
                100,
                100,
            ),
            (
                "Stainless",
                "Brushed stainless finish that resists stains and fingerprints.",
                120,
                105,
            ),
            (
                "Professional",
                "Restaurant-grade build for heavy daily use.",
                165,
                120,
            ),
            (
                "Compact",
                "Space-saving size for small kitchens and apartments.",
                85,
                75,
            ),
        ],
    },
    CategorySpec {
        slug: "outdoors",
        name: "Outdoors",
        prefix: "OUTD",
        naming: Naming::Prefix,
        items: [
            (
                "Camping Tent",
                "Two-person, three-season tent with a full rain fly and two vestibules.",
                14999,
                2800,
            ),
            (
                "Sleeping Bag",
                "Mummy sleeping bag rated to -5 C with a draft collar and compression sack.",
                8999,
                1400,
            ),
            (
                "Trekking Poles",
                "Collapsible trekking poles with cork grips and flick locks.",
                5999,
                520,
            ),
            (
                "Headlamp",
                "Rechargeable 400-lumen headlamp with red night mode.",
                2999,
                90,
            ),
            (
                "Insulated Water Bottle",
                "Double-wall vacuum bottle that keeps drinks cold for 24 hours.",
                2799,
                380,
            ),
        ],
        variants: [
            ("Trailhead", "Dependable pick for weekend trips.", 100, 100),
            (
                "Summit",
                "Expedition-grade materials for alpine conditions.",
                150,
                115,
            ),
            (
                "Ridge Ultralight",
                "Ultralight construction for thru-hikers counting every gram.",
                170,
                65,
            ),
            (
                "Basecamp",
                "Roomy, rugged and built for car camping.",
                90,
                130,
            ),
        ],
    },
    CategorySpec {
        slug: "toys",
        name: "Toys",
        prefix: "TOYS",
        naming: Naming::Prefix,
        items: [
            (
                "Wooden Building Blocks",
                "Set of 100 smooth beech blocks in twelve shapes, finished with non-toxic paint.",
                3499,
                1500,
            ),
            (
                "Remote Control Car",
                "All-terrain remote control car with rechargeable battery and 30-minute run time.",
                4999,
                800,
            ),
            (
                "Plush Bear",
                "Soft, machine-washable plush bear with embroidered eyes, safe from birth.",
                1999,
                300,
            ),
            (
                "Marble Run Set",
                "Build-your-own marble run with 80 pieces and 20 glass marbles.",
                3999,
                1100,
            ),
            (
                "Jigsaw Puzzle",
                "1000-piece jigsaw puzzle with a poster of the finished picture.",
                1799,
                700,
            ),
        ],
        variants: [
            ("Rainbow", "Bright colours that toddlers love.", 100, 100),
            ("Junior", "Sized for little hands, ages 3 and up.", 80, 80),
            (
                "Deluxe",
                "Bigger set with extra pieces and a storage box.",
                160,
                150,
            ),
            (
                "Explorer",
                "Adventure-themed edition with an activity booklet.",
                115,
                105,
            ),
        ],
    },
    CategorySpec {
        slug: "apparel",
        name: "Apparel",
        prefix: "APRL",
        naming: Naming::Suffix,
        items: [
            (
                "Merino Crew Sweater",
                "Fine-gauge merino wool sweater that breathes, resists odour and layers well.",
                8999,
                350,
            ),
            (
                "Rain Jacket",
                "Waterproof, breathable shell with taped seams and a packable hood.",
                11999,
                450,
            ),
            (
                "Organic Cotton T-Shirt",
                "Midweight organic cotton tee with a relaxed fit.",
                2499,
                180,
            ),
            (
                "Slim Chinos",
                "Stretch cotton chinos with a slim, tapered leg.",
                5999,
                500,
            ),
            (
                "Wool Hiking Socks",
                "Cushioned merino blend socks with a reinforced heel and toe.",
                1899,
                90,
            ),
        ],
        variants: [
            ("Navy", "Colour: navy.", 100, 100),
            ("Charcoal", "Colour: charcoal.", 100, 100),
            ("Olive", "Colour: olive.", 105, 100),
            ("Sand", "Colour: sand, a limited seasonal run.", 110, 100),
        ],
    },
    CategorySpec {
        slug: "beauty",
        name: "Beauty",
        prefix: "BEAU",
        naming: Naming::Prefix,
        items: [
            (
                "Hydrating Face Serum",
                "Hyaluronic acid serum that plumps and hydrates without a sticky finish.",
                2899,
                120,
            ),
            (
                "Mineral Sunscreen SPF 50",
                "Broad-spectrum zinc oxide sunscreen that leaves no white cast.",
                1899,
                150,
            ),
            (
                "Clay Face Mask",
                "Kaolin and bentonite clay mask that clears pores in ten minutes.",
                2199,
                200,
            ),
            (
                "Argan Hair Oil",
                "Cold-pressed argan oil that tames frizz and adds shine.",
                2499,
                110,
            ),
            (
                "Lip Balm Trio",
                "Three nourishing lip balms with shea butter and beeswax.",
                999,
                45,
            ),
        ],
        variants: [
            (
                "Botanica",
                "Made with plant-based ingredients and no synthetic fragrance.",
                100,
                100,
            ),
            ("Pure Glow", "Brightening formula with vitamin C.", 125, 100),
            ("Daily", "Gentle enough for every day.", 85, 100),
            (
                "Sensitive Skin",
                "Dermatologist-tested for sensitive skin, fragrance-free.",
                115,
                100,
            ),
        ],
    },
    CategorySpec {
        slug: "sports",
        name: "Sports",
        prefix: "SPRT",
        naming: Naming::Prefix,
        items: [
            (
                "Yoga Mat",
                "Six-millimetre non-slip yoga mat with alignment lines and a carry strap.",
                3999,
                1800,
            ),
            (
                "Adjustable Dumbbells",
                "Pair of dial-adjustable dumbbells from 2 to 24 kg each.",
                19999,
                11000,
            ),
            (
                "Running Shoes",
                "Neutral road running shoes with a responsive foam midsole.",
                11999,
                620,
            ),
            (
                "Jump Rope",
                "Speed jump rope with ball-bearing handles and an adjustable cable.",
                1499,
                200,
            ),
            (
                "Foam Roller",
                "High-density foam roller for recovery and mobility work.",
                2999,
                700,
            ),
        ],
        variants: [
            ("Core", "Everything you need to get started.", 100, 100),
            (
                "Elite",
                "Competition-grade build used by coaches.",
                160,
                105,
            ),
            (
                "Studio",
                "Quiet, floor-friendly design for home studios.",
                110,
                100,
            ),
            (
                "Endurance",
                "Extra-durable materials for daily training.",
                130,
                110,
            ),
        ],
    },
    CategorySpec {
        slug: "grocery",
        name: "Grocery",
        prefix: "GROC",
        naming: Naming::Prefix,
        items: [
            (
                "Arabica Coffee Beans 1 kg",
                "Whole-bean medium roast with notes of cocoa, caramel and red fruit.",
                2199,
                1000,
            ),
            (
                "Extra Virgin Olive Oil 750 ml",
                "First cold-pressed olive oil with a peppery finish.",
                1699,
                1100,
            ),
            (
                "Dark Chocolate Bar 85%",
                "Intense dark chocolate made from single-estate cacao.",
                399,
                100,
            ),
            (
                "Wildflower Honey 500 g",
                "Raw, unfiltered honey from meadows in bloom.",
                1199,
                650,
            ),
            (
                "Green Tea 100 Bags",
                "Delicate sencha green tea in unbleached bags.",
                899,
                250,
            ),
        ],
        variants: [
            ("Organic", "Certified organic.", 100, 100),
            (
                "Fair Trade",
                "Fair Trade certified, so growers earn a fair price.",
                110,
                100,
            ),
            (
                "Single Origin",
                "Traceable to a single farm or cooperative.",
                135,
                100,
            ),
            (
                "Family Size",
                "Value pack, two and a half times the regular size.",
                220,
                250,
            ),
        ],
    },
    CategorySpec {
        slug: "office",
        name: "Office",
        prefix: "OFFC",
        naming: Naming::Prefix,
        items: [
            (
                "Ergonomic Office Chair",
                "Mesh-back chair with adjustable lumbar support, armrests and seat depth.",
                29999,
                15000,
            ),
            (
                "Standing Desk",
                "Electric sit-stand desk with dual motors and four memory presets.",
                44999,
                32000,
            ),
            (
                "Gel Ink Pens 12 Pack",
                "Smooth 0.5 mm gel pens with quick-drying ink in assorted colours.",
                1299,
                150,
            ),
            (
                "Dotted Notebook A5",
                "Lay-flat dotted notebook with 160 pages of fountain-pen-friendly paper.",
                1499,
                350,
            ),
            (
                "Monitor Arm",
                "Gas-spring monitor arm for screens up to 32 inches.",
                8999,
                3500,
            ),
        ],
        variants: [
            ("Essential", "The essentials, done well.", 100, 100),
            (
                "Executive",
                "Premium finishes for the corner office.",
                170,
                115,
            ),
            (
                "Eco",
                "Made from recycled and responsibly sourced materials.",
                105,
                95,
            ),
            ("Studio", "Minimal design in matte black.", 120, 100),
        ],
    },
];

/// A category of the seeded catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedCategory {
    /// Its fixed id.
    pub id: String,
    /// Its slug (`home-kitchen`).
    pub slug: &'static str,
    /// Its display name (`Home & Kitchen`).
    pub name: &'static str,
}

/// A product of the seeded catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedProduct {
    /// Its fixed id (a UUID v7 at the catalog's epoch).
    pub id: String,
    /// Its SKU (`ELEC-0102`).
    pub sku: String,
    /// Its display name.
    pub name: String,
    /// Its description.
    pub description: String,
    /// Its category's slug.
    pub category_slug: &'static str,
    /// Its price in US cents.
    pub price_minor: i64,
    /// Its weight in grams.
    pub weight_grams: i64,
    /// The stock the inventory service starts it with.
    pub initial_stock: i64,
    /// Its creation time, Unix milliseconds.
    pub created_at: i64,
}

/// What [`seed_catalog`] inserted (both zero when the catalog already had products).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SeedOutcome {
    /// Categories inserted.
    pub categories: u64,
    /// Products inserted.
    pub products: u64,
}

/// FNV-1a, to derive stable id bytes from a name.
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// A UUID v7 at `millis` whose remaining bits come from `name`: the same on every run.
fn stable_id(millis: i64, name: &str) -> String {
    let hash = fnv1a(name).to_be_bytes();
    let tail = fnv1a(&format!("{name}#")).to_be_bytes();
    let bytes = [
        hash[0], hash[1], hash[2], hash[3], hash[4], hash[5], hash[6], hash[7], tail[0], tail[1],
    ];
    let millis = u64::try_from(millis).unwrap_or_default();
    uuid::Builder::from_unix_timestamp_millis(millis, &bytes)
        .into_uuid()
        .to_string()
}

/// `cents` rounded to the nearest whole amount minus one cent (`12.99`), at least 0.99.
fn charm_price(cents: i64) -> i64 {
    (((cents + 50) / 100) * 100 - 1).max(99)
}

/// The seeded categories, in order.
pub fn seed_categories() -> Vec<SeedCategory> {
    CATEGORIES
        .iter()
        .enumerate()
        .map(|(index, spec)| SeedCategory {
            id: stable_id(CATALOG_EPOCH_MILLIS + index as i64, spec.slug),
            slug: spec.slug,
            name: spec.name,
        })
        .collect()
}

/// The seeded products (200), in SKU order within each category.
pub fn seed_products() -> Vec<SeedProduct> {
    let mut products = Vec::with_capacity(200);
    for (c, spec) in CATEGORIES.iter().enumerate() {
        for (i, (item, about, base_price, base_weight)) in spec.items.iter().enumerate() {
            for (v, (variant, line, price_pct, weight_pct)) in spec.variants.iter().enumerate() {
                let sku = format!("{}-{:02}{:02}", spec.prefix, i + 1, v + 1);
                let name = match spec.naming {
                    Naming::Prefix => format!("{variant} {item}"),
                    Naming::Suffix => format!("{item} ({variant})"),
                };
                let serial = (c * 20 + i * 4 + v) as i64;
                let created_at = CATALOG_EPOCH_MILLIS + 60_000 + serial * 1_000;
                let spread = ((c * 5 + i * 7 + v * 13) % 18) as i64;
                products.push(SeedProduct {
                    id: stable_id(created_at, &sku),
                    name,
                    description: format!("{about} {line}"),
                    category_slug: spec.slug,
                    price_minor: charm_price(base_price * price_pct / 100),
                    weight_grams: (base_weight * weight_pct / 100).max(1),
                    initial_stock: 20 + spread * 25,
                    created_at,
                    sku,
                });
            }
        }
    }
    products
}

/// Each seeded product's SKU and initial stock, for the inventory service's own seed.
pub fn seed_stock() -> Vec<(String, i64)> {
    seed_products()
        .into_iter()
        .map(|product| (product.sku, product.initial_stock))
        .collect()
}

/// Inserts the seeded catalog in one transaction when the products table is empty, with one
/// `product.created` event (carrying the product's initial stock) per product in the same
/// transaction; a second call, or a concurrent one from another replica, inserts nothing.
pub async fn seed_catalog(store: &Store) -> anyhow::Result<SeedOutcome> {
    // Replicas may seed at the same time: the first takes the write lock before it looks, the
    // others wait for it and then find the catalog full.
    let mut tx = match store.dialect() {
        Dialect::Sqlite => store.pool().begin_with("BEGIN IMMEDIATE").await?,
        Dialect::Postgres => {
            let mut tx = store.pool().begin().await?;
            sqlx::query("LOCK TABLE products IN EXCLUSIVE MODE")
                .execute(&mut *tx)
                .await?;
            tx
        }
    };
    let existing: i64 = sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM products")
        .fetch_one(&mut *tx)
        .await?;
    if existing > 0 {
        return Ok(SeedOutcome::default());
    }
    let mut outcome = SeedOutcome::default();
    let mut category_ids = std::collections::HashMap::new();
    for category in seed_categories() {
        outcome.categories += sqlx::query(
            "INSERT INTO categories (id, slug, name, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT DO NOTHING",
        )
        .bind(&category.id)
        .bind(category.slug)
        .bind(category.name)
        .bind(CATALOG_EPOCH_MILLIS)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        // The slug may already exist under another id (created by an admin): use that one.
        let row = sqlx::query("SELECT id FROM categories WHERE slug = $1")
            .bind(category.slug)
            .fetch_one(&mut *tx)
            .await?;
        category_ids.insert(category.slug, row.try_get::<String, _>("id")?);
    }
    for product in seed_products() {
        let category_id = category_ids
            .get(product.category_slug)
            .ok_or_else(|| anyhow::anyhow!("seed category {} missing", product.category_slug))?;
        let inserted = sqlx::query(
            "INSERT INTO products (id, sku, name, description, category_id, price_minor, \
             currency, weight_grams, rating_sum, rating_count, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 'USD', $7, 0, 0, $8, $9) ON CONFLICT DO NOTHING",
        )
        .bind(&product.id)
        .bind(&product.sku)
        .bind(&product.name)
        .bind(&product.description)
        .bind(category_id)
        .bind(product.price_minor)
        .bind(product.weight_grams)
        .bind(product.created_at)
        .bind(product.created_at)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted > 0 {
            let created = ProductCreated {
                product_id: product.id.clone(),
                sku: product.sku.clone(),
                name: product.name.clone(),
                price_minor: product.price_minor,
                currency: "USD".to_owned(),
                weight_grams: product.weight_grams,
                initial_stock: product.initial_stock,
            };
            outbox::enqueue(&mut tx, &Event::of(&product.id, &created)?).await?;
        }
        outcome.products += inserted;
    }
    tx.commit().await?;
    tracing::info!(
        categories = outcome.categories,
        products = outcome.products,
        "catalog seeded"
    );
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::domain::Sku;

    #[test]
    fn the_catalog_is_two_hundred_distinct_valid_products() {
        let products = seed_products();
        assert_eq!(products.len(), 200);
        let skus: HashSet<_> = products.iter().map(|p| p.sku.as_str()).collect();
        let ids: HashSet<_> = products.iter().map(|p| p.id.as_str()).collect();
        let names: HashSet<_> = products.iter().map(|p| p.name.as_str()).collect();
        assert_eq!((skus.len(), ids.len(), names.len()), (200, 200, 200));
        for product in &products {
            assert_eq!(Sku::parse(&product.sku).unwrap().as_str(), product.sku);
            assert!(product.price_minor >= 99 && product.price_minor % 100 == 99);
            assert!(product.weight_grams > 0);
            assert!((20..=445).contains(&product.initial_stock));
            assert!(
                uuid::Uuid::parse_str(&product.id)
                    .unwrap()
                    .get_version_num()
                    == 7
            );
        }
        assert_eq!(seed_categories().len(), 10);
    }

    #[test]
    fn the_catalog_is_the_same_every_time() {
        assert_eq!(seed_products(), seed_products());
        assert_eq!(seed_categories(), seed_categories());
        let first = &seed_products()[0];
        assert_eq!(first.sku, "ELEC-0101");
        assert_eq!(first.name, "Nimbus Wireless Earbuds");
        assert_eq!(first.price_minor, 7999);
        let stock = seed_stock();
        assert_eq!(stock.len(), 200);
        assert_eq!(stock[0].0, "ELEC-0101");
    }

    #[test]
    fn prices_end_in_ninety_nine() {
        assert_eq!(charm_price(7999), 7999);
        assert_eq!(charm_price(11598), 11599);
        assert_eq!(charm_price(10), 99);
        assert_eq!(charm_price(1250), 1299);
    }
}

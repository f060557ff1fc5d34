//! `connect search` never returns someone it should not (DESIGN.md
//! "Identity and permissions", privacy; issue 10 point 4): for random
//! people, privacy settings, assignments and connections, every actor's
//! search returns exactly the people a simple model allows.

mod common;

use std::collections::BTreeSet;

use coachctl::actor::Actor;
use coachctl::domain::{UserId, UserRef};
use proptest::prelude::*;
use uuid::Uuid;

#[derive(Debug, Clone)]
struct Coach {
    active: bool,
    accepting: bool,
}

#[derive(Debug, Clone)]
struct Member {
    active: bool,
    privacy: &'static str,
    coach: Option<usize>,
    /// Per coach: none, or a connection status.
    links: Vec<Option<&'static str>>,
}

fn world() -> impl Strategy<Value = (Vec<Coach>, Vec<Member>)> {
    prop::collection::vec((any::<bool>(), any::<bool>()), 1..4).prop_flat_map(|coaches| {
        let k = coaches.len();
        let coaches: Vec<Coach> = coaches
            .into_iter()
            .map(|(a, acc)| Coach {
                active: a || acc, // mostly active
                accepting: acc,
            })
            .collect();
        let member = (
            prop::bool::weighted(0.85),
            prop::sample::select(vec!["public", "connections", "private"]),
            prop::option::of(0..k),
            prop::collection::vec(
                prop::option::of(prop::sample::select(vec![
                    "pending", "accepted", "declined", "removed",
                ])),
                k,
            ),
        )
            .prop_map(|(active, privacy, coach, links)| Member {
                active,
                privacy,
                coach,
                links,
            });
        (Just(coaches), prop::collection::vec(member, 0..8))
    })
}

/// Who `actor` may find: the model of DESIGN.md's privacy rule.
fn allowed(
    actor: Option<usize>,
    is_member_actor: bool,
    coaches: &[Coach],
    members: &[Member],
    cids: &[Uuid],
    mids: &[Uuid],
) -> BTreeSet<Uuid> {
    let mut out = BTreeSet::new();
    match (actor, is_member_actor) {
        (None, _) => {
            for (i, c) in coaches.iter().enumerate() {
                if c.active {
                    out.insert(cids[i]);
                }
            }
            for (i, m) in members.iter().enumerate() {
                if m.active {
                    out.insert(mids[i]);
                }
            }
        }
        (Some(_), true) => {
            for (i, c) in coaches.iter().enumerate() {
                if c.active && c.accepting {
                    out.insert(cids[i]);
                }
            }
        }
        (Some(c), false) => {
            for (i, m) in members.iter().enumerate() {
                let connected = m.coach == Some(c) || m.links[c] == Some("accepted");
                let visible = match m.privacy {
                    "public" => true,
                    "connections" => connected,
                    _ => false,
                };
                if m.active && visible {
                    out.insert(mids[i]);
                }
            }
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn no_search_ever_returns_someone_it_should_not((coaches, members) in world()) {
        let rt = common::runtime();
        let db = rt.block_on(common::TestDb::new_async());
        rt.block_on(async {
            let pool = db.pool().await;
            let cids: Vec<Uuid> = coaches.iter().map(|_| Uuid::new_v4()).collect();
            let mids: Vec<Uuid> = members.iter().map(|_| Uuid::new_v4()).collect();
            for (i, _) in coaches.iter().enumerate() {
                sqlx::query("INSERT INTO users (id, email, name, role) VALUES ($1, $2, $3, 'coach')")
                    .bind(cids[i]).bind(format!("c{i}@example.com")).bind(format!("Coach {i}"))
                    .execute(&pool).await.unwrap();
                sqlx::query("INSERT INTO coach_profiles (user_id, specialization) VALUES ($1, 'running')")
                    .bind(cids[i]).execute(&pool).await.unwrap();
            }
            for (i, m) in members.iter().enumerate() {
                sqlx::query("INSERT INTO users (id, email, name, role) VALUES ($1, $2, $3, 'member')")
                    .bind(mids[i]).bind(format!("m{i}@example.com")).bind(format!("Member {i}"))
                    .execute(&pool).await.unwrap();
                sqlx::query("INSERT INTO member_profiles (user_id, privacy, coach_id) VALUES ($1, $2, $3)")
                    .bind(mids[i]).bind(m.privacy).bind(m.coach.map(|c| cids[c]))
                    .execute(&pool).await.unwrap();
                for (c, link) in m.links.iter().enumerate() {
                    if let Some(status) = link {
                        sqlx::query(
                            "INSERT INTO connections (id, coach_id, member_id, requested_by, area, status)
                             VALUES ($1, $2, $3, $3, 'running', $4)",
                        )
                        .bind(Uuid::new_v4()).bind(cids[c]).bind(mids[i]).bind(*status)
                        .execute(&pool).await.unwrap();
                    }
                }
            }
            for (i, c) in coaches.iter().enumerate() {
                sqlx::query("UPDATE coach_profiles SET accepting_members = $2 WHERE user_id = $1")
                    .bind(cids[i]).bind(c.accepting).execute(&pool).await.unwrap();
                sqlx::query("UPDATE users SET active = $2 WHERE id = $1")
                    .bind(cids[i]).bind(c.active).execute(&pool).await.unwrap();
            }
            for (i, m) in members.iter().enumerate() {
                sqlx::query("UPDATE users SET active = $2 WHERE id = $1")
                    .bind(mids[i]).bind(m.active).execute(&pool).await.unwrap();
            }
            let search = |actor: Actor| {
                let pool = pool.clone();
                async move {
                    coachctl::connect::search(&pool, &actor, None, None)
                        .await
                        .unwrap()
                        .into_iter()
                        .map(|f| f.id)
                        .collect::<BTreeSet<Uuid>>()
                }
            };
            let as_user = |id: Uuid| {
                let pool = pool.clone();
                async move {
                    Actor::resolve(&pool, Some(&UserRef::Id(UserId::from_uuid(id)))).await.unwrap()
                }
            };
            assert_eq!(
                search(Actor::operator()).await,
                allowed(None, false, &coaches, &members, &cids, &mids),
                "admin"
            );
            for (i, c) in coaches.iter().enumerate().filter(|(_, c)| c.active) {
                let found = search(as_user(cids[i]).await).await;
                let may = allowed(Some(i), false, &coaches, &members, &cids, &mids);
                assert!(found.is_subset(&may), "coach {i} {c:?} found someone hidden: {found:?} vs {may:?}");
                assert_eq!(found, may, "coach {i}");
            }
            for (i, _) in members.iter().enumerate().filter(|(_, m)| m.active) {
                let found = search(as_user(mids[i]).await).await;
                assert_eq!(found, allowed(Some(i), true, &coaches, &members, &cids, &mids), "member {i}");
            }
            pool.close().await;
        });
    }
}

#[test]
fn search_matches_name_and_area_literally() {
    let db = common::TestDb::new();
    db.coach("ana").arg("--specialization", "running").create();
    db.coach("cal").arg("--specialization", "yoga").create();
    db.member("bo").create();
    let found = |args: &[&str]| {
        let mut a = vec!["--as", "bo@example.com", "connect", "search", "-o", "json"];
        a.extend_from_slice(args);
        db.run(&a)
            .json()
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["email"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(found(&[]), ["ana@example.com", "cal@example.com"]);
    assert_eq!(found(&["--area", "yog"]), ["cal@example.com"]);
    assert_eq!(found(&["--name", "an"]), ["ana@example.com"]);
    assert!(found(&["--name", "%"]).is_empty(), "wildcards are literal");
}

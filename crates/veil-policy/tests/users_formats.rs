//! Users from real directories: PyYAML output with anchors, SCIM 2.0 exports, CSV.

use std::path::{Path, PathBuf};

use veil_policy::{Directory, Error};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

fn message(e: &Error) -> String {
    e.to_string()
}

#[test]
fn pyyaml_output_with_anchors_loads() {
    // 300 users sharing three lists: 598 aliases to 3 anchors.
    let dir = Directory::load(fixture("users-pyyaml.yaml")).unwrap();
    assert_eq!(dir.users().count(), 300);
    let u0 = dir.subject("user000", None).unwrap();
    assert!(u0.groups.contains("Legal Team"));
    assert!(u0.attributes["Department"].contains("Legal"), "group attributes inherited");
    assert_eq!(u0.attributes["sales_region"].len(), 2);
    let u1 = dir.subject("user001", None).unwrap();
    assert!(u1.groups.contains("Support") && !u1.groups.contains("Legal Team"));
    assert!(u1.attributes["sales_region"].contains("Michigan"), "an alias carries the anchored list");
}

#[test]
fn alias_bomb_is_refused_with_what_to_do() {
    // Each level doubles the one before: 2^30 values from a few lines, in one
    // value (an untagged value is read whole before its type is known).
    let mut text = String::from("users:\n  - name: u\n    attributes:\n      K:\n        - &a0 [x, x]\n");
    for i in 1..30 {
        text.push_str(&format!("        - &a{i} [*a{p}, *a{p}]\n", p = i - 1));
    }
    let e = Directory::from_yaml_str(&text, "bomb.yaml").unwrap_err();
    let m = message(&e);
    assert!(m.starts_with("bomb.yaml:"), "{m}");
    assert!(m.contains("aliases") && m.contains("2000000 values"), "{m}");
    assert!(m.contains("help: write the file without anchors and aliases"), "{m}");
    assert!(!m.contains("budget breached"), "{m}");
    let location = e.location().unwrap();
    assert!(location.line >= 1, "{location:?}");
}

#[test]
fn deep_nesting_is_refused_with_a_location() {
    let text = format!("users: [{{name: u, attributes: {{K: {}x{}}}}}]\n", "[".repeat(200), "]".repeat(200));
    let m = message(&Directory::from_yaml_str(&text, "deep.yaml").unwrap_err());
    assert!(m.starts_with("deep.yaml:1:"), "{m}");
    assert!(m.contains("deeper than veil reads") && m.contains("help:"), "{m}");
}

const SCIM: &str = r#"{
  "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
  "totalResults": 5,
  "Resources": [
    {
      "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
                  "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
      "id": "2819c223",
      "userName": "alice",
      "title": "Support agent",
      "addresses": [{"type": "work", "country": "FR"}, {"type": "home", "country": "US", "primary": true}],
      "roles": [{"value": "approver"}],
      "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
        "department": "Support", "costCenter": 4130, "manager": {"value": "9067729b", "displayName": "Bob"}
      },
      "groups": [{"value": "g-emp", "display": "Employees"}]
    },
    {
      "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
      "id": "9067729b",
      "userName": "bob",
      "groups": [{"value": "g-hr"}]
    },
    {
      "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
      "id": "0000dead",
      "userName": "mallory",
      "active": false,
      "groups": [{"value": "g-hr", "display": "HR"}]
    },
    {
      "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
      "id": "g-hr", "displayName": "HR",
      "members": [{"value": "9067729b", "type": "User"}]
    },
    {
      "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
      "id": "g-staff", "displayName": "Staff",
      "members": [{"value": "g-hr", "type": "Group"}, {"value": "2819c223", "type": "User"}]
    }
  ]
}"#;

#[test]
fn scim_export_gives_users_groups_and_attributes() {
    let dir = Directory::from_str_as(SCIM, "users.json").unwrap();
    let names: Vec<&str> = dir.users().map(|u| u.name.as_str()).collect();
    assert_eq!(names, ["alice", "bob"], "inactive users are left out");
    let alice = dir.subject("alice", None).unwrap();
    assert_eq!(alice.groups.iter().map(String::as_str).collect::<Vec<_>>(), ["Employees", "Staff"]);
    assert!(alice.attributes["department"].contains("Support"));
    assert!(alice.attributes["costCenter"].contains("4130"));
    assert!(alice.attributes["country"].contains("US"), "the primary address");
    assert!(alice.attributes["roles"].contains("approver"));
    assert!(alice.attributes["title"].contains("Support agent"));
    assert!(!alice.attributes.contains_key("manager"), "objects are not facts");
    let bob = dir.subject("bob", None).unwrap();
    // Member of HR (by id, twice over) and of Staff through HR.
    assert_eq!(bob.groups.iter().map(String::as_str).collect::<Vec<_>>(), ["HR", "Staff"]);
    assert!(dir.subject("mallory", None).is_err());
}

#[test]
fn scim_users_and_groups_arrays_and_nested_cycles() {
    let text = r#"{"Users": [{"id": "u1", "userName": "ann"}],
      "Groups": [{"id": "a", "displayName": "A", "members": [{"value": "b"}]},
                 {"id": "b", "displayName": "B", "members": [{"value": "a"}, {"value": "u1"}]}]}"#;
    let dir = Directory::from_str_as(text, "export.json").unwrap();
    let ann = dir.subject("ann", None).unwrap();
    assert_eq!(ann.groups.iter().map(String::as_str).collect::<Vec<_>>(), ["A", "B"]);
}

#[test]
fn scim_errors_name_file_line_and_column() {
    let text =
        "{\"Resources\": [\n  {\"schemas\": [\"urn:ietf:params:scim:schemas:core:2.0:User\"],\n   \"id\": \"x1\"}\n]}";
    let e = Directory::from_str_as(text, "users.json").unwrap_err();
    assert!(message(&e).starts_with("users.json:3:10: a SCIM User (id `x1`) has no userName"), "{}", message(&e));

    let twice = r#"{"Resources": [
  {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "ann"},
  {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "ann"}
]}"#;
    let m = message(&Directory::from_str_as(twice, "users.json").unwrap_err());
    assert!(m.starts_with("users.json:3:63: user `ann` is defined twice (first at users.json:2:63)"), "{m}");

    let broken = "{\"Resources\": [\n  {\"userName\": \"ann\",}\n]}";
    let m = message(&Directory::from_str_as(broken, "users.json").unwrap_err());
    assert!(m.starts_with("users.json:2:"), "{m}");
}

#[test]
fn json_in_veils_own_shape_is_not_scim() {
    let dir = Directory::from_str_as(r#"{"users": [{"name": "ann", "groups": ["G"]}]}"#, "users.json").unwrap();
    assert!(dir.subject("ann", None).unwrap().groups.contains("G"));
}

#[test]
fn csv_rows_are_users() {
    let text = "name,groups,Country,sales_region,projects\n\
                ann,Employees; Support,US,Ohio;Michigan,\n\
                \"o'brien, pat\",HR,France,,growth\n";
    let dir = Directory::from_str_as(text, "users.csv").unwrap();
    let ann = dir.subject("ann", None).unwrap();
    assert_eq!(ann.groups.iter().map(String::as_str).collect::<Vec<_>>(), ["Employees", "Support"]);
    assert_eq!(ann.attributes["sales_region"].len(), 2);
    let pat = dir.users().find(|u| u.name == "o'brien, pat").unwrap();
    assert!(pat.projects.contains("growth"));
    assert!(!pat.attributes.contains_key("sales_region"), "an empty cell is no value");
}

#[test]
fn csv_errors_name_the_line() {
    let m = message(&Directory::from_str_as("user,groups\nann,G\n", "u.csv").unwrap_err());
    assert!(m.starts_with("u.csv:1:1: the header has no `name` column (it has: user, groups)"), "{m}");
    let m = message(&Directory::from_str_as("name,groups\nann,G\n,H\n", "u.csv").unwrap_err());
    assert!(m.starts_with("u.csv:3:1: a row has no user name"), "{m}");
    let m = message(&Directory::from_str_as("name,groups\nann,G,extra\n", "u.csv").unwrap_err());
    assert!(m.starts_with("u.csv:2:1: not valid CSV"), "{m}");
    let m = message(&Directory::from_str_as("name\nann\nbob\nann\n", "u.csv").unwrap_err());
    assert!(m.starts_with("u.csv:4:1: user `ann` is defined twice (first at u.csv:2:1)"), "{m}");
}

#[test]
fn a_folder_merges_yaml_csv_and_scim() {
    let dir = std::env::temp_dir().join(format!("veil-users-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("groups.yaml"), "groups:\n  - {name: HR, attributes: {Department: HR}}\n").unwrap();
    std::fs::write(dir.join("staff.csv"), "name,groups\ncsvuser,HR\n").unwrap();
    std::fs::write(dir.join("idp.json"), SCIM).unwrap();
    std::fs::write(dir.join("notes.txt"), "not users").unwrap();
    let loaded = Directory::load(&dir).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let names: Vec<&str> = loaded.users().map(|u| u.name.as_str()).collect();
    assert_eq!(names, ["alice", "bob", "csvuser"]);
    assert!(loaded.subject("csvuser", None).unwrap().attributes["Department"].contains("HR"));
    assert!(loaded.subject("bob", None).unwrap().attributes["Department"].contains("HR"));
}

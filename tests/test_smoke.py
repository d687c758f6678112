def test_queue_shows_open_case_to_its_manager(client, manager, case):
    # given a manager of the case's practice, when they open the queue
    client.force_login(manager)
    response = client.get("/")
    # then the case is listed
    assert response.status_code == 200
    assert f'id="case-{case.pk}"' in response.content.decode()

package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/startmsg/chatbackend/shared/hours"
)

// checkInstallation: make run's demo sender installation (demo.env's
// INSTALLATION_UUID and INSTALLATION_SECRET) takes the seed's link and
// hands the message to its puller.
func checkInstallation(t *testing.T, apiURL string, demo map[string]string) {
	t.Helper()
	uuid, secret := demo["INSTALLATION_UUID"], demo["INSTALLATION_SECRET"]
	if uuid == "" || secret == "" {
		t.Fatalf("demo.env has no INSTALLATION_UUID or INSTALLATION_SECRET")
	}
	res, err := http.Get(apiURL + "/webhook/add_message?UUID=" + uuid + "&toMobileNumber=03001234567&wapMessage=hello%20from%20make%20run")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.Contains(string(b), `"status":"queued"`) {
		t.Fatalf("add_message on the demo installation: %d %s", res.StatusCode, b)
	}
	req, _ := http.NewRequest(http.MethodGet, apiURL+"/v1/installations/"+uuid+"/messages?max=100", nil)
	req.Header.Set("Authorization", "Bearer "+secret)
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var page struct {
		Data []struct {
			Message, To string
		} `json:"data"`
	}
	err = json.NewDecoder(res.Body).Decode(&page)
	res.Body.Close()
	if err != nil || res.StatusCode != http.StatusOK || len(page.Data) == 0 || page.Data[len(page.Data)-1].Message != "hello from make run" ||
		page.Data[len(page.Data)-1].To != "+923001234567" {
		t.Fatalf("pull: %d %+v %v", res.StatusCode, page, err)
	}
	// "Use API" on, and hours open at every moment of the week (not only
	// at the moment this test runs).
	req, _ = http.NewRequest(http.MethodGet, apiURL+"/v1/installations/"+uuid, nil)
	req.Header.Set("Authorization", "Bearer "+demo["TOKEN_WHATSAPP"])
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var inst struct {
		Data struct {
			UseAPI bool            `json:"use_api"`
			Hours  *hours.Schedule `json:"hours"`
		} `json:"data"`
	}
	err = json.NewDecoder(res.Body).Decode(&inst)
	res.Body.Close()
	if err != nil || res.StatusCode != http.StatusOK || !inst.Data.UseAPI || inst.Data.Hours == nil {
		t.Fatalf("the demo installation: %d %+v %v", res.StatusCode, inst, err)
	}
	start := time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC)
	for h := 0; h < 7*24*4; h++ {
		if at := start.Add(time.Duration(h) * 15 * time.Minute); !open(inst.Data.Hours, at) {
			t.Fatalf("the demo installation's hours %+v are closed at %s", *inst.Data.Hours, at)
		}
	}
}

func open(s *hours.Schedule, at time.Time) bool {
	ok, _ := s.Next(at)
	return ok
}
